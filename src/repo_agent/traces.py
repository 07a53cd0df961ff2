"""Trace files: JSONL with one line per step and one per run result; resumable appends."""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from repo_agent.files import atomic_writer
from repo_agent.records import RESULT_FORMAT, TRACE_FORMAT, ResultLine, RunResult, StepRecord

log = logging.getLogger(__name__)


class TraceFormatError(Exception):
    """A trace file this version must not read: a line of an unknown format version, or no
    trace line at all."""


class CorruptLineError(TraceFormatError):
    """One trace line is not JSON or does not match its format's schema."""


class OutputLockedError(Exception):
    """Another process holds the lock on an output file."""


@dataclass
class Trace:
    steps: list[StepRecord] = field(default_factory=list)
    results: list[ResultLine] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)  # 1-based numbers of corrupted lines
    # Runs not read: left without a step by a corrupted line, or recorded twice (the later).
    dropped_runs: list[str] = field(default_factory=list)

    def steps_by_run(self) -> dict[str, list[StepRecord]]:
        out: dict[str, list[StepRecord]] = {}
        for s in self.steps:
            out.setdefault(s.run_id, []).append(s)
        return out


def parse_line(line: str) -> StepRecord | ResultLine:
    """One trace line. CorruptLineError for a line that is not JSON, not an object, untagged or
    off its schema; TraceFormatError for a format tag this version does not read."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise CorruptLineError(f"not JSON: {exc}") from exc
    fmt = obj.get("format") if isinstance(obj, dict) else None
    if not isinstance(fmt, str):
        raise CorruptLineError("not a trace line (no format tag)")
    try:
        if fmt == TRACE_FORMAT:
            return StepRecord.model_validate(obj)
        if fmt == RESULT_FORMAT:
            return ResultLine.model_validate(obj)
    except ValidationError as exc:
        raise CorruptLineError(f"invalid trace line: {exc}") from exc
    raise TraceFormatError(
        f"unknown trace format {fmt!r}; this version reads {TRACE_FORMAT} and {RESULT_FORMAT}"
    )


def read_trace(path: Path) -> Trace:
    """Read a trace file. Steps of runs without a result line (an interrupted run) are dropped;
    an unreadable last line (a write cut short) is ignored.

    A corrupted line elsewhere (not JSON, untagged, off its schema) is skipped and numbered in
    `skipped_lines`; a second run under a run id already read (two writers once raced) is
    dropped. In a file so damaged, a run whose step lines are not exactly 0..steps-1 is
    dropped too. Dropped runs go in `dropped_runs`, all of it in one warning; a resume reruns
    them. A line tagged with a format
    version this version does not read is an error, not corruption: the file may be newer
    than the code. So is a file with lines but no trace line (a results file, say)."""
    trace = Trace()
    if not path.exists():
        return trace
    # Split on "\n" only: JSON lines may hold U+2028 or U+0085 raw, which splitlines() breaks
    # on; a write cut short may end inside a multi-byte character.
    lines = path.read_bytes().decode("utf-8", errors="replace").rstrip("\n").split("\n")
    pending: dict[str, list[StepRecord]] = {}  # steps of runs whose result line is not read yet
    runs: dict[str, tuple[list[StepRecord], ResultLine]] = {}
    first_error = ""
    read_any = False
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = parse_line(line)
        except CorruptLineError as exc:
            if i == len(lines) - 1 and isinstance(exc.__cause__, json.JSONDecodeError):
                break  # a write cut short
            trace.skipped_lines.append(i + 1)
            first_error = first_error or " ".join(str(exc).split())[:200]
            continue
        except TraceFormatError as exc:
            raise TraceFormatError(f"{path}:{i + 1}: {exc}") from exc
        read_any = True
        if isinstance(rec, StepRecord):
            pending.setdefault(rec.run_id, []).append(rec)
            continue
        steps = pending.pop(rec.result.run_id, [])
        if rec.result.run_id in runs:
            trace.dropped_runs.append(rec.result.run_id)
        else:
            runs[rec.result.run_id] = (steps, rec)
    if trace.skipped_lines and not read_any:
        raise TraceFormatError(
            f"{path}: no trace line in the file ({_numbers(trace.skipped_lines)}: {first_error})"
        )
    damaged = bool(trace.skipped_lines or trace.dropped_runs)
    for run_id, (steps, result) in runs.items():
        if damaged and [s.step for s in steps] != list(range(result.result.steps)):
            trace.dropped_runs.append(run_id)  # a step line corrupted, or two runs interleaved
            continue
        trace.steps += steps
        trace.results.append(result)
    if trace.skipped_lines or trace.dropped_runs:
        log.warning("%s", _damage(path, trace, first_error))
    return trace


def _damage(path: Path, trace: Trace, first_error: str) -> str:
    """The one warning about a damaged trace file."""
    parts = []
    if trace.skipped_lines:
        n = len(trace.skipped_lines)
        parts.append(
            f"skipped {n} corrupted line(s) {_numbers(trace.skipped_lines)} ({first_error})"
        )
    if trace.dropped_runs:
        ids = ", ".join(trace.dropped_runs[:5]) + (", …" if len(trace.dropped_runs) > 5 else "")
        parts.append(
            f"dropped {len(trace.dropped_runs)} run(s) left incomplete or recorded twice: {ids}"
        )
    return f"{path}: " + "; ".join(parts)


def _numbers(lines: list[int], most: int = 10) -> str:
    """Line numbers for a message, the rest counted past `most`.

    >>> _numbers([3, 9])
    'lines 3,9'
    >>> _numbers(list(range(1, 14)), most=2)
    'lines 1,2 and 11 more'
    """
    text = "lines " + ",".join(map(str, lines[:most]))
    return text + (f" and {len(lines) - most} more" if len(lines) > most else "")


def join_traces(traces: Iterable[Trace]) -> Trace:
    """One trace of the steps and results of `traces`, in order."""
    out = Trace()
    for t in traces:
        out.steps += t.steps
        out.results += t.results
    return out


def traces_beside(results: Path) -> Path:
    """The trace file `repo-agent run --out X.jsonl` writes beside its results: X.traces.jsonl."""
    return results.with_suffix(".traces.jsonl")


def lock_path(path: Path) -> Path:
    """The lock file of an output: `runs.jsonl` → `runs.jsonl.lock`."""
    return path.with_name(path.name + ".lock")


@contextmanager
def output_lock(path: Path) -> Iterator[Path]:
    """Hold an exclusive lock on `path` (through `<path>.lock`) for the block, so two writers
    never append to one output; OutputLockedError at once if another process holds it.

    The lock dies with its process (flock), so a killed run never leaves a stale lock; the
    empty lock file stays, as removing it could let two writers lock two different files."""
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise OutputLockedError(
                f"another repo-agent run is writing {path} (lock {lock})"
            ) from exc
        yield lock
    finally:
        os.close(fd)


class TraceWriter:
    """Appends whole runs (steps then result) to a trace file, so a killed run loses only the
    runs in flight; opening it compacts away partial and corrupted lines and reports the
    finished run ids. It does not lock: hold `output_lock` around a writer that may race."""

    def __init__(self, path: Path, results_path: Path | None = None) -> None:
        self.path = path
        self.results_path = results_path
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = read_trace(path)
        self.done: set[str] = {r.result.run_id for r in existing.results}
        with atomic_writer(path) as fh:
            by_run = existing.steps_by_run()
            for r in existing.results:
                for s in by_run.get(r.result.run_id, []):
                    fh.write(s.model_dump_json(exclude_none=True) + "\n")
                fh.write(r.model_dump_json() + "\n")
        if results_path is not None:
            results_path.parent.mkdir(parents=True, exist_ok=True)
            results_path.write_text(
                "".join(r.result.model_dump_json() + "\n" for r in existing.results),
                encoding="utf-8",
            )

    def write_run(self, steps: list[StepRecord], result: ResultLine) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            for s in steps:
                fh.write(s.model_dump_json(exclude_none=True) + "\n")
            fh.write(result.model_dump_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if self.results_path is not None:
            with self.results_path.open("a", encoding="utf-8") as fh:
                fh.write(result.result.model_dump_json() + "\n")
        self.done.add(result.result.run_id)


def read_results(path: Path) -> list[RunResult]:
    """Read a results file (one RunResult per line)."""
    return [
        RunResult.model_validate_json(line)
        for line in path.read_text(encoding="utf-8").split("\n")
        if line.strip()
    ]
