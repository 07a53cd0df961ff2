"""Eval metrics on hand-made run results and steps, with hand-computed numbers."""

from __future__ import annotations

import random
import statistics
from typing import Any

import pytest

from repo_agent.evaluation.metrics import (
    METRIC_NAMES,
    RUN_RATES,
    bootstrap_ci,
    breakdown,
    failure_reasons,
    model_metrics,
    run_totals,
    runs_frame,
    steps_frame,
)
from repo_agent.records import Message, RunResult, StepRecord, TaskMetadata


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


def rate(name: str, results: list[RunResult]) -> float:
    return runs_frame(results).select(RUN_RATES[name]).item()


def test_runs_frame_has_one_row_per_run_and_knows_who_wrote() -> None:
    frame = runs_frame(RESULTS)
    assert frame.height == 4
    assert frame["wrote"].to_list() == [True, True, False, False]
    assert not runs_frame([run("t:0", False, 1, tools={"write_file": 0})])["wrote"].item()


def test_empty_frames_keep_their_columns() -> None:
    assert runs_frame([]).height == 0 and "success" in runs_frame([]).columns
    assert steps_frame([]).columns == ["run_id", "parse_error", "tool_error"]


def test_run_totals() -> None:
    assert run_totals(RESULTS) == {
        "runs": 4,
        "successes": 1,
        "steps": 14,
        "parse_errors": 5,
        "loop_detections": 1,
    }
    assert run_totals([]) == dict.fromkeys(run_totals(RESULTS), 0)


def test_run_rates_hand_computed() -> None:
    values = {name: rate(name, RESULTS) for name in RUN_RATES}
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


MANY_RUNS = runs_frame(MANY)


@pytest.mark.parametrize("name", list(RUN_RATES))
def test_bootstrap_ci_contains_the_point_estimate(name: str) -> None:
    lo, hi = bootstrap_ci(MANY_RUNS, RUN_RATES[name], 1000, seed=0)
    assert lo <= rate(name, MANY) <= hi
    assert lo < hi


@pytest.mark.parametrize("name", list(RUN_RATES))
def test_bootstrap_ci_is_deterministic_per_seed(name: str) -> None:
    expr = RUN_RATES[name]
    assert bootstrap_ci(MANY_RUNS, expr, 200, seed=5) == bootstrap_ci(MANY_RUNS, expr, 200, seed=5)


def test_bootstrap_ci_matches_resampling_by_hand() -> None:
    """Same draws as resampling the runs with random.Random(seed).choice, sample after sample."""
    rng = random.Random(7)
    by_hand = sorted(statistics.mean(rng.choice(MANY).steps for _ in MANY) for _ in range(200))
    expected = (by_hand[int(0.025 * 199)], by_hand[int(0.975 * 199)])
    assert bootstrap_ci(MANY_RUNS, RUN_RATES["avg_steps"], 200, seed=7) == pytest.approx(expected)


def test_bootstrap_ci_depends_on_the_seed() -> None:
    expr = RUN_RATES["avg_steps"]
    assert len({bootstrap_ci(MANY_RUNS, expr, 100, seed=s) for s in range(5)}) > 1


def test_bootstrap_ci_of_a_constant_metric_is_a_point() -> None:
    wins = runs_frame([run(f"t{i}:0", True, 3) for i in range(5)])
    assert bootstrap_ci(wins, RUN_RATES["success_rate"], 200, seed=0) == (1.0, 1.0)


def test_bootstrap_ci_of_no_runs() -> None:
    assert bootstrap_ci(runs_frame([]), RUN_RATES["success_rate"], 100, seed=0) == (0.0, 0.0)


def test_bootstrap_ci_narrows_with_more_runs() -> None:
    expr = RUN_RATES["success_rate"]
    lo_small, hi_small = bootstrap_ci(runs_frame(MANY[:6]), expr, 1000, seed=0)
    lo_big, hi_big = bootstrap_ci(runs_frame(MANY * 10), expr, 1000, seed=0)
    assert hi_big - lo_big < hi_small - lo_small


def test_breakdown_by_category() -> None:
    assert breakdown(runs_frame(RESULTS), "category") == {
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
    out = breakdown(runs_frame(RESULTS), "difficulty")
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
    assert breakdown(runs_frame([]), "category") == {}


def test_failure_reasons() -> None:
    assert failure_reasons(runs_frame(RESULTS), steps_frame(STEPS)) == [
        ("parse error: invalid_json", 2),
        ("wrote a fix that fails the tests", 1),
        ("3 consecutive parse errors", 1),
        ("finished without writing a fix", 1),
        ("parse error: missing_arg", 1),
    ]
    assert failure_reasons(runs_frame(RESULTS), steps_frame(STEPS), top=2) == [
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
    assert failure_reasons(runs_frame(runs), steps_frame([])) == [
        ("step limit reached", 2),
        ("policy error: HTTP 500", 1),
    ]


def test_failure_reasons_of_successful_runs_is_empty() -> None:
    assert failure_reasons(runs_frame([RESULTS[0]]), steps_frame([step("t1:0", 0)])) == []
