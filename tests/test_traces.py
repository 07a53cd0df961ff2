"""Trace files: round trip, resuming after a write cut short, corrupted and duplicated lines,
format versions, and the output lock."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from repo_agent.policies.scripted import ScriptedPolicy
from repo_agent.records import RESULT_FORMAT, TRACE_FORMAT, ResultLine, StepRecord
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.runtime.task import Task
from repo_agent.traces import (
    OutputLockedError,
    TraceFormatError,
    TraceWriter,
    join_traces,
    output_lock,
    parse_line,
    read_results,
    read_trace,
    traces_beside,
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


def test_join_traces_concatenates_in_order(tmp_path: Path, runs: list[Run]) -> None:
    paths = []
    for i, (steps, line) in enumerate(runs):
        paths.append(tmp_path / f"{i}.traces.jsonl")
        TraceWriter(paths[-1]).write_run(steps, line)
    trace = join_traces(read_trace(p) for p in paths)
    assert [r.result.run_id for r in trace.results] == [ln.result.run_id for _, ln in runs]
    assert len(trace.steps) == sum(len(s) for s, _ in runs)


@pytest.mark.parametrize("fmt", ["repo-agent.trace/2", "repo-agent.result/0", "other"])
def test_unknown_format_version_is_an_error(
    tmp_path: Path, runs: list[Run], fmt: str | None
) -> None:
    # A newer (or foreign) format is not corruption: skipping its lines would lose them.
    steps, line = runs[0]
    obj = json.loads(steps[0].model_dump_json())
    obj["format"] = fmt
    path = tmp_path / "t.traces.jsonl"
    path.write_text(json.dumps(obj) + "\n" + line.model_dump_json() + "\n", encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(TraceFormatError, match=r"t\.traces\.jsonl:1: unknown trace format"):
        read_trace(path)
    with pytest.raises(TraceFormatError):
        TraceWriter(path)  # a writer never appends to a file it cannot read
    assert path.read_bytes() == before
    with pytest.raises(TraceFormatError, match="reads repo-agent.trace/1 and repo-agent.result/1"):
        parse_line(json.dumps(obj))


def corrupt(kind: str, raw: str) -> str:
    """A trace line damaged in one of the ways a disk, an editor or a bad merge damages it."""
    obj = json.loads(raw)
    if kind == "not json":
        return raw[: len(raw) // 2]
    if kind == "binary":
        return "\x00\ufffd\ufffdPK\x03\x04"
    if kind == "array":
        return json.dumps([obj])
    if kind == "untagged":
        return json.dumps({k: v for k, v in obj.items() if k != "format"})
    if kind == "off schema":
        return json.dumps({**obj, "surprise": 1})
    raise AssertionError(kind)


KINDS = ["not json", "binary", "array", "untagged", "off schema"]


def file_lines(runs: list[Run]) -> list[str]:
    return [
        x.model_dump_json(exclude_none=True) if isinstance(x, StepRecord) else x.model_dump_json()
        for steps, line in runs
        for x in [*steps, line]
    ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["step", "result"])
def test_a_corrupted_middle_line_is_skipped_with_one_warning(
    tmp_path: Path, runs: list[Run], kind: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    trace_path, results_path = tmp_path / "t.traces.jsonl", tmp_path / "t.jsonl"
    lines = file_lines(runs)
    # Five lines a run (four steps, a result): run 2's second step, or its result line.
    bad = 7 if where == "step" else 10
    lines[bad - 1] = corrupt(kind, lines[bad - 1])
    trace_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first, second, third = (line.result.run_id for _, line in runs)

    caplog.set_level(logging.WARNING, logger="repo_agent.traces")
    trace = read_trace(trace_path)
    # Run 2 lost a step or its result: it is not read (a resume runs it again).
    assert [r.result.run_id for r in trace.results] == [first, third]
    assert dump(trace.steps) == dump([*runs[0][0], *runs[2][0]])
    assert trace.skipped_lines == [bad]
    assert trace.dropped_runs == ([second] if where == "step" else [])
    [warning] = caplog.records
    assert f"t.traces.jsonl: skipped 1 corrupted line(s) lines {bad} (" in warning.getMessage()

    # The writer compacts the bad line away and reports the runs it kept.
    writer = TraceWriter(trace_path, results_path=results_path)
    assert writer.done == {first, third}
    assert [r.run_id for r in read_results(results_path)] == [first, third]
    for raw in trace_path.read_text(encoding="utf-8").rstrip("\n").split("\n"):
        parse_line(raw)
    writer.write_run(*runs[1])
    caplog.clear()
    assert [r.result.run_id for r in read_trace(trace_path).results] == [first, third, second]
    assert caplog.records == []  # clean again


def test_several_corrupted_lines_are_one_warning(
    tmp_path: Path, runs: list[Run], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.traces.jsonl"
    lines = file_lines(runs)
    lines[1], lines[12] = "{oops", "garbage"  # a step of run 1, a step of run 3
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="repo_agent.traces")
    trace = read_trace(path)
    assert trace.skipped_lines == [2, 13]
    assert [r.result.run_id for r in trace.results] == [runs[1][1].result.run_id]
    [warning] = caplog.records
    assert "skipped 2 corrupted line(s) lines 2,13" in warning.getMessage()
    assert "dropped 2 run(s) left incomplete or recorded twice" in warning.getMessage()


def test_an_off_schema_last_line_is_reported_but_a_cut_one_is_not(
    tmp_path: Path, runs: list[Run], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.traces.jsonl"
    lines = file_lines(runs[:1])
    caplog.set_level(logging.WARNING, logger="repo_agent.traces")
    path.write_text("\n".join([*lines, lines[0][:30]]), encoding="utf-8")
    assert len(read_trace(path).results) == 1 and caplog.records == []
    path.write_text("\n".join([*lines, corrupt("off schema", lines[0])]), encoding="utf-8")
    assert read_trace(path).skipped_lines == [len(lines) + 1] and len(caplog.records) == 1


def test_a_file_without_trace_lines_is_an_error(tmp_path: Path, runs: list[Run]) -> None:
    # A results file given as traces: all its lines are untagged. Not an empty trace, and a
    # writer must not "compact" it to nothing.
    trace_path, results_path = tmp_path / "t.traces.jsonl", tmp_path / "t.jsonl"
    writer = TraceWriter(trace_path, results_path=results_path)
    for steps, line in runs:
        writer.write_run(steps, line)
    before = results_path.read_bytes()
    with pytest.raises(
        TraceFormatError, match=r"t\.jsonl: no trace line in the file \(lines 1,2,3"
    ):
        read_trace(results_path)
    with pytest.raises(TraceFormatError):
        TraceWriter(results_path)
    assert results_path.read_bytes() == before


def test_a_run_recorded_twice_is_read_once_and_compaction_does_not_double_it(
    tmp_path: Path, runs: list[Run], caplog: pytest.LogCaptureFixture
) -> None:
    # What two writers racing on one file left before the lock: a run appended twice.
    path = tmp_path / "t.traces.jsonl"
    lines = file_lines(runs)
    first = lines[:5]  # run 1: four steps and its result
    path.write_text("\n".join([*lines, *first]) + "\n", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="repo_agent.traces")
    trace = read_trace(path)
    assert [r.result.run_id for r in trace.results] == [ln.result.run_id for _, ln in runs]
    assert dump(trace.steps) == dump([s for steps, _ in runs for s in steps])
    assert trace.dropped_runs == [runs[0][1].result.run_id]
    assert "recorded twice" in caplog.records[0].getMessage()
    TraceWriter(path)
    compacted = path.read_bytes()
    assert compacted.decode().count("\n") == len(lines)
    TraceWriter(path)
    assert path.read_bytes() == compacted  # stable: no doubling on each resume


def test_interleaved_duplicate_runs_are_dropped(tmp_path: Path, runs: list[Run]) -> None:
    # Two writers appending the same run id line by line: neither copy is whole.
    path = tmp_path / "t.traces.jsonl"
    run1 = file_lines(runs[:1])
    mixed = [x for pair in zip(run1, run1, strict=True) for x in pair]
    path.write_text("\n".join([*mixed, *file_lines(runs[1:])]) + "\n", encoding="utf-8")
    trace = read_trace(path)
    assert [r.result.run_id for r in trace.results] == [ln.result.run_id for _, ln in runs[1:]]
    assert trace.dropped_runs == [runs[0][1].result.run_id] * 2


def test_output_lock_admits_one_holder(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "runs.jsonl"
    with output_lock(out) as lock:
        assert lock == tmp_path / "sub" / "runs.jsonl.lock" and lock.is_file()
        # flock conflicts between two opens even in one process, as between two processes.
        with (
            pytest.raises(
                OutputLockedError,
                match=rf"another repo-agent run is writing {out} \(lock {lock}\)",
            ),
            output_lock(out),
        ):
            pass
    with output_lock(out):  # released at the end of the block
        pass


def test_traces_beside() -> None:
    assert traces_beside(Path("runs/x.jsonl")) == Path("runs/x.traces.jsonl")
