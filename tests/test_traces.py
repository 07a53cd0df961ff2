"""Trace files: round trip, resuming after a write cut short, and format versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repo_agent.policies.scripted import ScriptedPolicy
from repo_agent.records import RESULT_FORMAT, TRACE_FORMAT, ResultLine, StepRecord
from repo_agent.runtime.agent import RunSpec, run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.task import Task
from repo_agent.traces import (
    TraceFormatError,
    TraceWriter,
    parse_line,
    read_results,
    read_trace,
    read_traces,
)

SCRIPT = [
    '{"type":"tool_call","name":"list_files","args":{}}',
    "not json",
    # Non-ASCII text in the trace: a cut can land inside a multi-byte character.
    '{"type":"tool_call","name":"write_file","args":{"rel_path":"notes.md","content":"né — ✓ 🐍"}}',
    # U+2028 and U+0085 stay raw in JSON text; a reader must not split lines on them.
    '{"type":"final","summary":"done \\u2028 \\u0085 \\u001c ✓"}',
]

Run = tuple[list[StepRecord], ResultLine]


@pytest.fixture(scope="module")
def runs(task_by_id: dict[str, Task]) -> list[Run]:
    """Three finished runs of the scripted policy (no tests: fast)."""
    tasks = [task_by_id["a_binary_search"], task_by_id["a_gcd_lcm"], task_by_id["b_dijkstra"]]
    done: list[Run] = []
    run_episodes(
        [RunSpec(t, f"{t.id}:scripted:0") for t in tasks],
        ScriptedPolicy(SCRIPT),
        AgentConfig(test_policy="never"),
        lambda steps, line: done.append((steps, line)),
    )
    return done


def dump(records: list) -> list[dict]:
    return [r.model_dump() for r in records]


def run_ids(path: Path) -> list[str]:
    return [r.result.run_id for r in read_trace(path).results]


def test_round_trip(tmp_path: Path, runs: list[Run]) -> None:
    trace_path, results_path = tmp_path / "t.traces.jsonl", tmp_path / "t.jsonl"
    writer = TraceWriter(trace_path, results_path=results_path)
    assert writer.done == set()
    for steps, line in runs:
        writer.write_run(steps, line)
    assert writer.done == {line.result.run_id for _, line in runs}

    trace = read_trace(trace_path)
    assert dump(trace.steps) == dump([s for steps, _ in runs for s in steps])
    assert dump(trace.results) == dump([line for _, line in runs])
    assert dump(read_results(results_path)) == dump([line.result for _, line in runs])
    by_run = trace.steps_by_run()
    assert list(by_run) == [line.result.run_id for _, line in runs]
    assert all(len(v) == 4 for v in by_run.values())
    step = trace.steps[1]
    assert step.parse_error == "invalid_json" and step.action is None
    assert trace.results[0].result.final_summary == "done \u2028 \x85 \x1c ✓"

    # Every line carries its format version.
    for raw in trace_path.read_text(encoding="utf-8").rstrip("\n").split("\n"):
        obj = json.loads(raw)
        assert obj["format"] in {TRACE_FORMAT, RESULT_FORMAT}
        assert obj["kind"] == ("step" if obj["format"] == TRACE_FORMAT else "result")


def write_cut(path: Path, steps: list[StepRecord], line: ResultLine, keep_bytes: int) -> None:
    """Append a run as write_run would, but stop after `keep_bytes` bytes (a kill mid-write)."""
    text = "".join(s.model_dump_json(exclude_none=True) + "\n" for s in steps)
    text += line.model_dump_json() + "\n"
    with path.open("ab") as fh:
        fh.write(text.encode("utf-8")[:keep_bytes])


def cut_points(steps: list[StepRecord], line: ResultLine) -> list[int]:
    """Byte offsets inside the run: mid-step, mid-result, inside a multi-byte character."""
    data = (
        "".join(s.model_dump_json(exclude_none=True) + "\n" for s in steps)
        + line.model_dump_json()
        + "\n"
    ).encode("utf-8")
    multibyte = data.index("🐍".encode()) + 2
    first_nl = data.index(b"\n")
    last_line = data.rindex(b"\n", 0, len(data) - 1) + 1
    return [
        1,
        first_nl // 2,
        first_nl + 1,  # a whole step and nothing more
        multibyte,
        last_line + 10,
        len(data) - 2,
        len(data) - 1,  # the result line without its newline is still cut short of nothing
    ]


@pytest.mark.parametrize("point", range(7))
def test_resume_after_a_cut_loses_and_duplicates_nothing(
    tmp_path: Path, runs: list[Run], point: int
) -> None:
    trace_path, results_path = tmp_path / "t.traces.jsonl", tmp_path / "t.jsonl"
    writer = TraceWriter(trace_path, results_path=results_path)
    for steps, line in runs[:2]:
        writer.write_run(steps, line)
    steps3, line3 = runs[2]
    keep = cut_points(steps3, line3)[point]
    write_cut(trace_path, steps3, line3, keep)
    finished = point == 6  # only the newline was lost: the run is complete

    # Reading copes with the cut and keeps only finished runs.
    expected = [line.result.run_id for _, line in runs[: 3 if finished else 2]]
    assert run_ids(trace_path) == expected

    # Reopening compacts the file, and reports the finished runs.
    writer = TraceWriter(trace_path, results_path=results_path)
    assert writer.done == set(expected)
    assert [r.run_id for r in read_results(results_path)] == expected
    if not finished:
        writer.write_run(steps3, line3)

    trace = read_trace(trace_path)
    assert dump(trace.results) == dump([line for _, line in runs])
    assert dump(trace.steps) == dump([s for steps, _ in runs for s in steps])
    assert [r.run_id for r in read_results(results_path)] == [
        line.result.run_id for _, line in runs
    ]
    # Every line of the compacted file is whole.
    for raw in trace_path.read_text(encoding="utf-8").rstrip("\n").split("\n"):
        parse_line(raw)


def test_results_file_is_rebuilt_from_the_trace(tmp_path: Path, runs: list[Run]) -> None:
    # A kill between the trace append and the results append.
    trace_path, results_path = tmp_path / "t.traces.jsonl", tmp_path / "t.jsonl"
    writer = TraceWriter(trace_path, results_path=results_path)
    for steps, line in runs:
        writer.write_run(steps, line)
    lines = results_path.read_text(encoding="utf-8").split("\n")
    results_path.write_text(lines[0] + "\n" + lines[1][:7], encoding="utf-8")
    TraceWriter(trace_path, results_path=results_path)
    assert [r.run_id for r in read_results(results_path)] == [ln.result.run_id for _, ln in runs]


def test_steps_of_unfinished_runs_are_dropped(tmp_path: Path, runs: list[Run]) -> None:
    path = tmp_path / "t.traces.jsonl"
    steps, line = runs[0]
    path.write_text(
        "".join(s.model_dump_json() + "\n" for s in steps) + "\n", encoding="utf-8"
    )  # steps, no result line (and a blank line)
    assert read_trace(path).steps == [] and read_trace(path).results == []
    assert TraceWriter(path).done == set()
    assert path.read_text(encoding="utf-8") == ""


def test_missing_file_is_an_empty_trace(tmp_path: Path) -> None:
    trace = read_trace(tmp_path / "nope.jsonl")
    assert trace.steps == [] and trace.results == []


def test_read_traces_concatenates(tmp_path: Path, runs: list[Run]) -> None:
    paths = []
    for i, (steps, line) in enumerate(runs):
        paths.append(tmp_path / f"{i}.traces.jsonl")
        TraceWriter(paths[-1]).write_run(steps, line)
    trace = read_traces(paths)
    assert [r.result.run_id for r in trace.results] == [ln.result.run_id for _, ln in runs]
    assert len(trace.steps) == sum(len(s) for s, _ in runs)


@pytest.mark.parametrize("fmt", ["repo-agent.trace/2", "repo-agent.result/0", None, "other"])
def test_unknown_format_version_is_an_error(
    tmp_path: Path, runs: list[Run], fmt: str | None
) -> None:
    steps, line = runs[0]
    obj = json.loads(steps[0].model_dump_json())
    if fmt is None:
        del obj["format"]
    else:
        obj["format"] = fmt
    path = tmp_path / "t.traces.jsonl"
    path.write_text(json.dumps(obj) + "\n" + line.model_dump_json() + "\n", encoding="utf-8")
    with pytest.raises(TraceFormatError, match=r"t\.traces\.jsonl:1: unknown trace format"):
        read_trace(path)
    with pytest.raises(TraceFormatError):
        TraceWriter(path)  # a writer never appends to a file it cannot read
    with pytest.raises(TraceFormatError, match="reads repo-agent.trace/1 and repo-agent.result/1"):
        parse_line(json.dumps(obj))


def test_schema_violations_and_corrupt_middle_lines_are_errors(
    tmp_path: Path, runs: list[Run]
) -> None:
    steps, line = runs[0]
    bad = json.loads(steps[0].model_dump_json())
    bad["surprise"] = 1
    path = tmp_path / "t.traces.jsonl"
    path.write_text(json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(TraceFormatError, match="invalid trace line"):
        read_trace(path)
    path.write_text("{not json\n" + line.model_dump_json() + "\n", encoding="utf-8")
    with pytest.raises(TraceFormatError, match=r":1: not JSON"):
        read_trace(path)
