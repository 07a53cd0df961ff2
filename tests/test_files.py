"""Atomic writes and JSON/JSONL helpers on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from repo_agent.files import atomic_writer, read_jsonl, write_json, write_jsonl, write_text_atomic


class Row(BaseModel):
    a: int


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_writer(path) as fh:
        fh.write("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_writes_create_parent_dirs_and_replace_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "x.txt"
    write_text_atomic(path, "one")
    write_text_atomic(path, "two")
    assert path.read_text() == "two"


def test_write_json_is_sorted_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    write_json(path, {"b": 1, "a": {"d": 2, "c": 3}})
    assert path.read_text() == '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'


def test_jsonl_round_trip_of_models_and_dicts(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    assert write_jsonl(path, [Row(a=1), {"a": 2}]) == 2
    assert path.read_text() == '{"a":1}\n{"a": 2}\n'
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]


def test_read_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"a": 1}) + "\n\n[1]\n")
    with pytest.raises(ValueError, match="bad.jsonl:3: a line must be a JSON object"):
        read_jsonl(path)
    path.write_text("{oops\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: not valid JSON"):
        read_jsonl(path)
