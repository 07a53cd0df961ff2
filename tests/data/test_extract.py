"""SFT extraction: which steps are kept, the drop counts, and the rows they become."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from repo_agent.data.extract import EXTRACT_FORMAT, SFTExample, extract_sft, keep_step
from repo_agent.files import read_jsonl, write_jsonl
from repo_agent.formats import validate_sft_row
from repo_agent.policies.oracle import OraclePolicy
from repo_agent.records import (
    Message,
    ResultLine,
    RunResult,
    StepRecord,
    TaskMetadata,
    ToolCallAction,
)
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.runtime.protocol import parse_action
from repo_agent.runtime.task import Task
from repo_agent.runtime.tools import openai_tool_schemas

SYSTEM = Message(role="system", content="You fix bugs.")
GOAL = Message(role="user", content="Task: fix f")


def call(name: str, **args: Any) -> str:
    return json.dumps({"type": "tool_call", "name": name, "args": args})


def step(
    run_id: str,
    n: int,
    output: str,
    history: list[Message] | None = None,
    task_id: str = "t1",
    **fields: Any,
) -> StepRecord:
    messages = [SYSTEM, GOAL, *(history or [])]
    raw = Message(role="assistant", content=output)
    parsed = parse_action(raw, "json")
    action = None if "parse_error" in fields else parsed
    return StepRecord(
        task_id=task_id,
        run_id=run_id,
        policy="teacher",
        step=n,
        messages=messages,
        raw_output=raw,
        action=action,
        **fields,
    )


def result(run_id: str, success: bool, task_id: str = "t1") -> ResultLine:
    return ResultLine(
        policy="teacher",
        result=RunResult(
            task_id=task_id,
            run_id=run_id,
            success=success,
            steps=1,
            tool_calls=1,
            files_touched=[],
            error=None,
            duration_s=0.1,
            final_summary=None,
            test_output=None,
            metadata=TaskMetadata(difficulty="easy", category="math", expected_files=["f.py"]),
            reflection_count=0,
            loop_detections=0,
            parse_errors=0,
            test_runs=0,
            tool_breakdown={},
        ),
    )


LIST = call("list_files", rel_dir=".")
OBS = Message(role="user", content="[tool_result] list_files\nf.py\ntests/test_f.py")
READ = call("read_file", rel_path="f.py")


# --- keep_step ---


def test_keep_step_keeps_a_clean_step() -> None:
    assert keep_step(step("r", 0, LIST))


@pytest.mark.parametrize(
    "fields",
    [
        {"parse_error": "invalid_json"},
        {"loop_flags": ["exact_repeat"]},
        {"tool_error": True},
    ],
    ids=["parse-error", "loop", "tool-error"],
)
def test_keep_step_drops_bad_steps(fields: dict[str, Any]) -> None:
    assert not keep_step(step("r", 0, "{oops" if "parse_error" in fields else LIST, **fields))


# --- extract_sft on hand-made steps ---


def test_counts_of_kept_and_dropped_steps() -> None:
    steps = [
        step("ok", 0, LIST),
        step("ok", 1, READ, [Message(role="assistant", content=LIST), OBS]),
        step("bad", 0, "{oops", parse_error="invalid_json"),
        step("bad", 1, LIST, loop_flags=["exact_repeat"]),
        step("bad", 2, call("read_file", rel_path="nope.py"), tool_error=True),
        step("dup", 0, LIST),  # same state and action as ok/0
    ]
    rows, counts = extract_sft(steps, [result("ok", True), result("bad", False)])
    assert counts == {
        "steps": 6,
        "invalid": 3,
        "failed_run": 0,
        "too_long": 0,
        "duplicate": 1,
        "rows": 2,
    }
    assert [(r.run_id, r.step) for r in rows] == [("ok", 0), ("ok", 1)]


def test_rows_end_in_the_steps_raw_output_and_validate() -> None:
    history = [Message(role="assistant", content=LIST), OBS]
    s = step("ok", 1, READ, history)
    rows, _ = extract_sft([s], [])
    (ex,) = rows
    assert isinstance(ex, SFTExample)
    assert ex.format == EXTRACT_FORMAT
    assert (ex.task_id, ex.run_id, ex.step) == ("t1", "ok", 1)
    msgs = ex.row["messages"]
    assert msgs[-1] == {"role": "assistant", "content": READ}
    assert msgs[:-1] == [m.dump() for m in s.messages]
    validate_sft_row(ex.row)


def test_failed_runs_are_kept_unless_require_success() -> None:
    steps = [
        step("won", 0, LIST),
        step("lost", 0, READ),
        step("unknown", 0, call("grep", pattern="f")),
    ]
    results = [result("won", True), result("lost", False)]
    rows, counts = extract_sft(steps, results)
    assert counts["rows"] == 3 and counts["failed_run"] == 0
    rows, counts = extract_sft(steps, results, require_success=True)
    # A run without a result line counts as not successful.
    assert [r.run_id for r in rows] == ["won"]
    assert counts["failed_run"] == 2 and counts["rows"] == 1


def test_dedupe_off_keeps_identical_rows() -> None:
    steps = [step("a", 0, LIST), step("b", 0, LIST), step("c", 0, LIST)]
    _, counts = extract_sft(steps, [])
    assert counts["duplicate"] == 2 and counts["rows"] == 1
    rows, counts = extract_sft(steps, [], dedupe=False)
    assert counts["duplicate"] == 0 and [r.run_id for r in rows] == ["a", "b", "c"]


def test_rows_over_max_chars_are_dropped() -> None:
    short = step("s", 0, LIST)
    long_obs = Message(role="user", content="[tool_result] read_file\n" + "x" * 500)
    long = step("l", 1, LIST, [Message(role="assistant", content=READ), long_obs])
    size = sum(len(m.content or "") for m in [*short.messages, short.raw_output])
    rows, counts = extract_sft([short, long], [], max_chars=size)
    assert [r.run_id for r in rows] == ["s"]
    assert counts["too_long"] == 1
    # The limit is inclusive: a row of exactly max_chars is kept.
    _, counts = extract_sft([short], [], max_chars=size - 1)
    assert counts["too_long"] == 1 and counts["rows"] == 0


def test_no_steps_no_rows() -> None:
    rows, counts = extract_sft([], [])
    assert rows == [] and counts["rows"] == 0 and counts["steps"] == 0


def test_rows_round_trip_through_jsonl(tmp_path: Path) -> None:
    rows, _ = extract_sft([step("a", 0, LIST), step("b", 0, READ)], [])
    path = tmp_path / "sft" / "rows.jsonl"
    assert write_jsonl(path, rows) == 2
    back = read_jsonl(path)
    assert [SFTExample.model_validate(x) for x in back] == rows
    assert not path.with_suffix(".jsonl.tmp").exists()


# --- extract_sft on a real oracle run ---


@pytest.fixture(scope="module")
def oracle_run(bsearch_task: Task) -> tuple[list[StepRecord], ResultLine]:
    policy = OraclePolicy([bsearch_task])
    done: list[tuple[list[StepRecord], ResultLine]] = []
    run_episodes(
        [RunSpec(bsearch_task, "a_binary_search:teacher:0")],
        policy,
        AgentConfig(test_policy="on_final"),
        lambda steps, line: done.append((steps, line)),
    )
    (run,) = done
    return run


def test_every_oracle_step_becomes_a_row(oracle_run: tuple[list[StepRecord], ResultLine]) -> None:
    steps, line = oracle_run
    assert line.result.success
    rows, counts = extract_sft(steps, [line], require_success=True)
    assert counts["rows"] == len(steps) == counts["steps"]
    assert counts["invalid"] == counts["failed_run"] == counts["duplicate"] == 0
    for ex, s in zip(rows, steps, strict=True):
        assert ex.step == s.step and ex.task_id == "a_binary_search"
        assert ex.row["messages"][-1] == s.raw_output.dump()
        assert ex.row["messages"][:-1] == [m.dump() for m in s.messages]
        validate_sft_row(ex.row)
    last = json.loads(rows[-1].row["messages"][-1]["content"])
    assert last["type"] == "final"


def test_oracle_rows_drop_marked_steps(oracle_run: tuple[list[StepRecord], ResultLine]) -> None:
    steps, line = oracle_run
    marked = [
        steps[0].model_copy(update={"loop_flags": ["exact_repeat"]}),
        steps[1].model_copy(update={"tool_error": True}),
        *steps[2:],
        steps[2],  # a duplicate of a kept step
    ]
    _, counts = extract_sft(marked, [line])
    assert counts["invalid"] == 2
    assert counts["duplicate"] == 1
    assert counts["rows"] == len(steps) - 2


def test_oracle_rows_with_a_failed_result(oracle_run: tuple[list[StepRecord], ResultLine]) -> None:
    steps, line = oracle_run
    failed = line.model_copy(update={"result": line.result.model_copy(update={"success": False})})
    rows, counts = extract_sft(steps, [failed], require_success=True)
    assert rows == [] and counts["failed_run"] == len(steps)


def test_action_of_oracle_step_is_the_parsed_raw_output(
    oracle_run: tuple[list[StepRecord], ResultLine],
) -> None:
    steps, _ = oracle_run
    first = steps[0]
    assert isinstance(first.action, ToolCallAction) and first.action.name == "list_files"
    assert parse_action(first.raw_output, "json") == first.action


# --- the native protocol: rows carry the tools the agent offered ---


def test_native_rows_carry_the_tools_and_json_rows_do_not(
    bsearch_task: Task, oracle_run: tuple[list[StepRecord], ResultLine]
) -> None:
    done: list[tuple[list[StepRecord], ResultLine]] = []
    run_episodes(
        [RunSpec(bsearch_task, "a_binary_search:teacher:0")],
        OraclePolicy([bsearch_task], protocol="native"),
        AgentConfig(tool_protocol="native", test_policy="on_final"),
        lambda steps, line: done.append((steps, line)),
    )
    ((steps, line),) = done
    rows, counts = extract_sft(steps, [line], require_success=True, protocol="native")
    assert counts["rows"] == len(steps) > 1
    for ex in rows:
        assert list(ex.row) == ["messages", "tools"]
        assert ex.row["tools"] == openai_tool_schemas()
        assert validate_sft_row(ex.row).tools is not None
    assert any(m.get("tool_calls") for ex in rows for m in ex.row["messages"])

    json_steps, json_line = oracle_run
    json_rows, _ = extract_sft(json_steps, [json_line])
    assert all(list(ex.row) == ["messages"] for ex in json_rows)
