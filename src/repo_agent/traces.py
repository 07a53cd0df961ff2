"""Trace files: JSONL with one line per step and one per run result; resumable appends."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from repo_agent.files import atomic_writer
from repo_agent.records import RESULT_FORMAT, TRACE_FORMAT, ResultLine, RunResult, StepRecord


class TraceFormatError(Exception):
    """A trace line has an unknown format version or does not match the schema."""


@dataclass
class Trace:
    steps: list[StepRecord] = field(default_factory=list)
    results: list[ResultLine] = field(default_factory=list)

    def steps_by_run(self) -> dict[str, list[StepRecord]]:
        out: dict[str, list[StepRecord]] = {}
        for s in self.steps:
            out.setdefault(s.run_id, []).append(s)
        return out


def parse_line(line: str) -> StepRecord | ResultLine:
    obj = json.loads(line)
    fmt = obj.get("format")
    try:
        if fmt == TRACE_FORMAT:
            return StepRecord.model_validate(obj)
        if fmt == RESULT_FORMAT:
            return ResultLine.model_validate(obj)
    except ValidationError as exc:
        raise TraceFormatError(f"invalid trace line: {exc}") from exc
    raise TraceFormatError(
        f"unknown trace format {fmt!r}; this version reads {TRACE_FORMAT} and {RESULT_FORMAT}"
    )


def read_trace(path: Path) -> Trace:
    """Read a trace file. Steps of runs without a result line (an interrupted run) are dropped;
    an unreadable last line (a write cut short) is ignored, any other bad line is an error."""
    trace = Trace()
    if not path.exists():
        return trace
    # Split on "\n" only: JSON lines may hold U+2028 or U+0085 raw, which splitlines() breaks
    # on; a write cut short may end inside a multi-byte character.
    lines = path.read_bytes().decode("utf-8", errors="replace").rstrip("\n").split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = parse_line(line)
        except json.JSONDecodeError as exc:
            if i == len(lines) - 1:
                break
            raise TraceFormatError(f"{path}:{i + 1}: not JSON: {exc}") from exc
        except TraceFormatError as exc:
            raise TraceFormatError(f"{path}:{i + 1}: {exc}") from exc
        if isinstance(rec, StepRecord):
            trace.steps.append(rec)
        else:
            trace.results.append(rec)
    done = {r.result.run_id for r in trace.results}
    trace.steps = [s for s in trace.steps if s.run_id in done]
    return trace


def join_traces(traces: Iterable[Trace]) -> Trace:
    """One trace of the steps and results of `traces`, in order."""
    out = Trace()
    for t in traces:
        out.steps += t.steps
        out.results += t.results
    return out


def read_traces(paths: list[Path]) -> Trace:
    return join_traces(read_trace(p) for p in paths)


class TraceWriter:
    """Appends whole runs (steps then result) to a trace file, so a killed run loses only the
    runs in flight; opening it compacts away partial lines and reports the finished run ids."""

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
