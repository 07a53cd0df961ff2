"""Writing files so that a reader never sees half of one: every write goes to a temp file in
the same directory and is renamed into place. JSON and JSONL helpers on top."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel


@contextmanager
def atomic_writer(path: Path) -> Iterator[TextIO]:
    """A text file handle whose content replaces `path` only when the block ends without error.

    The temp name is unique per process and thread, so concurrent writers never share one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_writer(path) as fh:
        fh.write(text)


def write_json(path: Path, obj: Any) -> None:
    """Pretty, key-sorted JSON (stable across runs, so DVC and git see only real changes)."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_jsonl(path: Path, rows: Iterable[BaseModel | dict[str, Any]]) -> int:
    """One JSON object per line, written atomically; returns the count."""
    n = 0
    with atomic_writer(path) as fh:
        for row in rows:
            fh.write(row.model_dump_json() if isinstance(row, BaseModel) else json.dumps(row))
            fh.write("\n")
            n += 1
    return n


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file; blank lines are skipped, a bad line names its number."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{n}: a line must be a JSON object")
        rows.append(row)
    return rows
