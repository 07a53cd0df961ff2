"""Eval metrics on hand-made run results and steps, with hand-computed numbers."""

from __future__ import annotations

from typing import Any

import pytest

from repo_agent.evaluation.metrics import (
    METRIC_NAMES,
    RUN_METRICS,
    bootstrap_ci,
    breakdown,
    failure_reasons,
    model_metrics,
    reached_write,
    results_of,
)
from repo_agent.records import Message, ResultLine, RunResult, StepRecord, TaskMetadata


def run(
    run_id: str,
    success: bool,
    steps: int,
    *,
    parse_errors: int = 0,
    loops: int = 0,
    tools: dict[str, int] | None = None,
    error: str | None = None,
    category: str = "math",
    difficulty: str = "easy",
) -> RunResult:
    tools = tools or {}
    return RunResult(
        task_id=run_id.split(":")[0],
        run_id=run_id,
        success=success,
        steps=steps,
        tool_calls=sum(tools.values()),
        files_touched=["f.py"] if tools.get("write_file") else [],
        error=error,
        duration_s=1.0,
        final_summary=None,
        test_output=None,
        metadata=TaskMetadata(difficulty=difficulty, category=category, expected_files=["f.py"]),
        reflection_count=loops,
        loop_detections=loops,
        parse_errors=parse_errors,
        test_runs=1,
        tool_breakdown=tools,
    )


def step(run_id: str, n: int, **fields: Any) -> StepRecord:
    return StepRecord(
        task_id=run_id.split(":")[0],
        run_id=run_id,
        policy="base",
        step=n,
        messages=[Message(role="user", content="Task: x")],
        raw_output=Message(role="assistant", content="x"),
        **fields,
    )


FULL = {"list_files": 1, "grep": 1, "read_file": 1, "write_file": 1}
RESULTS = [
    run("t1:0", True, 5, tools=FULL),
    run(
        "t2:0",
        False,
        4,
        parse_errors=2,
        loops=1,
        tools={"list_files": 1, "write_file": 1},
        difficulty="hard",
    ),
    run(
        "t3:0",
        False,
        3,
        parse_errors=3,
        error="3 consecutive parse errors (last: invalid_json)",
        category="strings",
    ),
    run("t4:0", False, 2, tools={"list_files": 1}, category="strings"),
]
STEPS = [
    step("t1:0", 0),
    step("t1:0", 1),
    step("t1:0", 2, tool_error=True),
    step("t2:0", 0, parse_error="invalid_json"),
    step("t2:0", 1, parse_error="invalid_json"),
    step("t2:0", 2, loop_flags=["exact_repeat"]),  # a loop is still a valid call
    step("t3:0", 0, parse_error="missing_arg"),
    step("t4:0", 0),
]


def test_model_metrics_hand_computed() -> None:
    assert model_metrics(RESULTS, STEPS) == {
        "runs": 4,
        "steps": 14,
        "parse_errors": 5,
        "parse_error_rate": 0.3571,  # 5 / 14 steps
        "loop_detections": 1,
        "loops_per_run": 0.25,
        "avg_steps": 3.5,
        "write_file_rate": 0.5,  # t1, t2 reached a write
        "success_rate": 0.25,
        "tool_call_validity": 0.5,  # 4 of 8 steps: no parse error, no tool error
    }


def test_model_metrics_keys_are_the_metric_names() -> None:
    assert tuple(model_metrics(RESULTS, STEPS)) == METRIC_NAMES


def test_model_metrics_of_nothing_is_zero() -> None:
    m = model_metrics([], [])
    assert m["runs"] == 0 and all(v == 0 for v in m.values())


def test_model_metrics_of_a_perfect_model() -> None:
    m = model_metrics([RESULTS[0]], [step("t1:0", i) for i in range(5)])
    assert m["success_rate"] == m["write_file_rate"] == m["tool_call_validity"] == 1.0
    assert m["parse_error_rate"] == m["loops_per_run"] == 0.0


def test_reached_write() -> None:
    assert [reached_write(r) for r in RESULTS] == [True, True, False, False]
    assert not reached_write(run("t:0", False, 1, tools={"write_file": 0}))


def test_run_metrics_hand_computed() -> None:
    values = {name: fn(RESULTS) for name, fn in RUN_METRICS.items()}
    assert values == pytest.approx(
        {
            "success_rate": 0.25,
            "write_file_rate": 0.5,
            "avg_steps": 3.5,
            "loops_per_run": 0.25,
            "parse_error_rate": 5 / 14,
        }
    )


MANY = [
    run(
        f"t{i}:0",
        i % 3 == 0,
        2 + i % 5,
        parse_errors=i % 2,
        tools=FULL if i % 2 else {},
        loops=int(i % 4 == 0),
    )
    for i in range(30)
]


@pytest.mark.parametrize("name", list(RUN_METRICS))
def test_bootstrap_ci_contains_the_point_estimate(name: str) -> None:
    fn = RUN_METRICS[name]
    lo, hi = bootstrap_ci(MANY, fn, 1000, seed=0)
    assert lo <= fn(MANY) <= hi
    assert lo < hi


@pytest.mark.parametrize("name", list(RUN_METRICS))
def test_bootstrap_ci_is_deterministic_per_seed(name: str) -> None:
    fn = RUN_METRICS[name]
    assert bootstrap_ci(MANY, fn, 200, seed=5) == bootstrap_ci(MANY, fn, 200, seed=5)


def test_bootstrap_ci_depends_on_the_seed() -> None:
    fn = RUN_METRICS["avg_steps"]
    assert len({bootstrap_ci(MANY, fn, 100, seed=s) for s in range(5)}) > 1


def test_bootstrap_ci_of_a_constant_metric_is_a_point() -> None:
    wins = [run(f"t{i}:0", True, 3) for i in range(5)]
    assert bootstrap_ci(wins, RUN_METRICS["success_rate"], 200, seed=0) == (1.0, 1.0)


def test_bootstrap_ci_of_no_runs() -> None:
    assert bootstrap_ci([], RUN_METRICS["success_rate"], 100, seed=0) == (0.0, 0.0)


def test_bootstrap_ci_narrows_with_more_runs() -> None:
    fn = RUN_METRICS["success_rate"]
    lo_small, hi_small = bootstrap_ci(MANY[:6], fn, 1000, seed=0)
    lo_big, hi_big = bootstrap_ci(MANY * 10, fn, 1000, seed=0)
    assert hi_big - lo_big < hi_small - lo_small


def test_breakdown_by_category() -> None:
    assert breakdown(RESULTS, "category") == {
        "math": {
            "runs": 2,
            "success_rate": 0.5,
            "write_file_rate": 1.0,
            "parse_error_rate": 0.2222,
        },  # 2 / 9 steps
        "strings": {
            "runs": 2,
            "success_rate": 0.0,
            "write_file_rate": 0.0,
            "parse_error_rate": 0.6,
        },  # 3 / 5 steps
    }


def test_breakdown_by_difficulty() -> None:
    out = breakdown(RESULTS, "difficulty")
    assert list(out) == ["easy", "hard"]
    assert out["easy"] == {
        "runs": 3,
        "success_rate": 0.3333,
        "write_file_rate": 0.3333,
        "parse_error_rate": 0.3,
    }  # 3 / 10 steps
    assert out["hard"] == {
        "runs": 1,
        "success_rate": 0.0,
        "write_file_rate": 1.0,
        "parse_error_rate": 0.5,
    }


def test_breakdown_of_no_runs() -> None:
    assert breakdown([], "category") == {}


def test_failure_reasons() -> None:
    assert failure_reasons(RESULTS, STEPS) == [
        ("parse error: invalid_json", 2),
        ("wrote a fix that fails the tests", 1),
        ("3 consecutive parse errors", 1),
        ("finished without writing a fix", 1),
        ("parse error: missing_arg", 1),
    ]
    assert failure_reasons(RESULTS, STEPS, top=2) == [
        ("parse error: invalid_json", 2),
        ("wrote a fix that fails the tests", 1),
    ]


def test_failure_reasons_strip_the_detail_of_run_errors() -> None:
    runs = [
        run("a:0", False, 12, error="step limit reached (max_steps=12)"),
        run("a:1", False, 12, error="step limit reached (max_steps=12)", tools=FULL),
        run("b:0", False, 1, error="policy error: HTTP 500"),
        run("c:0", True, 5, tools=FULL, error=None),
    ]
    assert failure_reasons(runs, []) == [("step limit reached", 2), ("policy error: HTTP 500", 1)]


def test_failure_reasons_of_successful_runs_is_empty() -> None:
    assert failure_reasons([RESULTS[0]], [step("t1:0", 0)]) == []


def test_results_of() -> None:
    lines = [ResultLine(policy="base", result=r) for r in RESULTS]
    assert results_of(lines) == RESULTS
