"""Eval metrics on hand-made run results and steps, with hand-computed numbers."""

from __future__ import annotations

import random
import statistics
from typing import Any

import pytest

from repo_agent.evaluation.metrics import (
    HEADLINE,
    METRIC_NAMES,
    RUN_RATES,
    bootstrap_cis,
    breakdown,
    eval_metrics,
    failure_reasons,
    interval_block,
    model_metrics,
    paired_differences,
    paired_runs,
    run_table,
    run_totals,
    runs_frame,
    steps_frame,
    task_draws,
)
from repo_agent.records import Message, ResultLine, RunResult, StepRecord, TaskMetadata
from repo_agent.traces import Trace


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
def test_bootstrap_cis_contains_the_point_estimate(name: str) -> None:
    lo, hi = bootstrap_cis(MANY_RUNS, RUN_RATES, 1000, seed=0)[name]
    assert lo <= rate(name, MANY) <= hi
    assert lo < hi


@pytest.mark.parametrize("name", list(RUN_RATES))
def test_bootstrap_cis_is_deterministic_per_seed(name: str) -> None:
    again = bootstrap_cis(MANY_RUNS, RUN_RATES, 200, seed=5)[name]
    assert bootstrap_cis(MANY_RUNS, RUN_RATES, 200, seed=5)[name] == again


def test_bootstrap_cis_matches_resampling_by_hand() -> None:
    """With one run a task, the same draws as resampling the runs (in task-id order) with
    random.Random(seed).choice, sample after sample."""
    rng = random.Random(7)
    in_order = sorted(MANY, key=lambda r: r.task_id)
    by_hand = sorted(statistics.mean(rng.choice(in_order).steps for _ in MANY) for _ in range(200))
    expected = (by_hand[int(0.025 * 199)], by_hand[int(0.975 * 199)])
    assert bootstrap_cis(MANY_RUNS, RUN_RATES, 200, seed=7)["avg_steps"] == pytest.approx(expected)


def test_bootstrap_cis_depends_on_the_seed() -> None:
    cis = [bootstrap_cis(MANY_RUNS, RUN_RATES, 100, seed=s)["avg_steps"] for s in range(5)]
    assert len(set(cis)) > 1


def test_bootstrap_cis_of_a_constant_metric_is_a_point() -> None:
    wins = runs_frame([run(f"t{i}:0", True, 3) for i in range(5)])
    assert bootstrap_cis(wins, RUN_RATES, 200, seed=0)["success_rate"] == (1.0, 1.0)


def test_bootstrap_cis_of_no_runs() -> None:
    assert bootstrap_cis(runs_frame([]), RUN_RATES, 100, seed=0) == dict.fromkeys(
        RUN_RATES, (0.0, 0.0)
    )


def test_bootstrap_cis_narrows_with_more_runs() -> None:
    lo_small, hi_small = bootstrap_cis(runs_frame(MANY[:6]), RUN_RATES, 1000, seed=0)[
        "success_rate"
    ]
    lo_big, hi_big = bootstrap_cis(runs_frame(MANY * 10), RUN_RATES, 1000, seed=0)["success_rate"]
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


def test_run_table_counts_each_runs_step_records_and_valid_calls() -> None:
    table = run_table(RESULTS, STEPS)
    assert table["run_id"].to_list() == ["t1:0", "t2:0", "t3:0", "t4:0"]
    assert table["step_records"].to_list() == [3, 3, 1, 1]
    assert table["valid_steps"].to_list() == [2, 1, 0, 1]  # tool error; 2 parse errors; 1
    assert run_table(RESULTS, [])["step_records"].to_list() == [0, 0, 0, 0]


def test_headline_metrics_on_a_run_table_are_the_model_metrics() -> None:
    values = run_table(RESULTS, STEPS).select(**HEADLINE).row(0, named=True)
    block = model_metrics(RESULTS, STEPS)
    assert values == pytest.approx({k: block[k] for k in HEADLINE}, abs=1e-4)


def test_task_draws_are_seeded_resamples_of_the_tasks() -> None:
    draws = task_draws(["a", "b", "c"], 4, seed=1)
    assert draws.columns == ["sample", "task_id"]
    assert draws["sample"].to_list() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    rng = random.Random(1)
    assert draws["task_id"].to_list() == [rng.choice("abc") for _ in range(12)]
    assert task_draws([], 10, seed=0).height == 0


# Twelve tasks, three runs each (k = 0, 1, 2): runs of one task are alike, so only a
# task-clustered bootstrap sees how few independent units there are.
CLUSTERED = [
    run(
        f"t{i}:m:{k}",
        i % 3 == 0,
        2 + i % 5 + k,
        parse_errors=i % 2,
        loops=int(i % 4 == 0),
        tools=FULL if (i + k) % 2 else {},
    )
    for i in range(12)
    for k in range(3)
]
CLUSTERED_STEPS = [
    step(r.run_id, n, parse_error="invalid_json" if n < r.parse_errors else None)
    for r in CLUSTERED
    for n in range(r.steps)
]


@pytest.mark.parametrize("name", list(HEADLINE))
def test_clustered_cis_contain_the_point_estimate(name: str) -> None:
    table = run_table(CLUSTERED, CLUSTERED_STEPS)
    point = model_metrics(CLUSTERED, CLUSTERED_STEPS)[name]
    lo, hi = bootstrap_cis(table, HEADLINE, 500, seed=0)[name]
    assert lo <= point + 1e-4 and point - 1e-4 <= hi
    assert lo < hi


def test_clustered_bootstrap_equals_resampling_tasks_by_hand() -> None:
    """Task a has two runs, task b one: each resample draws two tasks, each with all its runs."""
    runs = [run("a:m:0", True, 2), run("a:m:1", False, 4), run("b:m:0", True, 9)]
    by_task = {"a": runs[:2], "b": runs[2:]}
    rng = random.Random(11)
    steps, wins = [], []
    for _ in range(300):
        drawn = [r for _ in range(2) for r in by_task[rng.choice(["a", "b"])]]
        steps.append(statistics.mean(r.steps for r in drawn))
        wins.append(statistics.mean(r.success for r in drawn))
    cis = bootstrap_cis(run_table(runs, []), HEADLINE, 300, seed=11)
    for name, values in (("avg_steps", steps), ("success_rate", wins)):
        ordered = sorted(values)
        assert cis[name] == pytest.approx((ordered[7], ordered[291])), name  # int(.025*299)


def test_copies_of_a_run_do_not_narrow_the_clustered_interval() -> None:
    """Three identical runs a task would look like 3x the data to a bootstrap over runs."""
    alike = [run(f"t{i}:m:{k}", i % 2 == 0, 3) for i in range(10) for k in range(3)]
    table = run_table(alike, [])
    lo, hi = bootstrap_cis(table, RUN_RATES, 1000, seed=0)["success_rate"]
    one_each = run_table([r for r in alike if r.run_id.endswith(":0")], [])
    lo1, hi1 = bootstrap_cis(one_each, RUN_RATES, 1000, seed=0)["success_rate"]
    assert (lo, hi) == (lo1, hi1)  # the same tasks, the same draws, the same means


def test_interval_block_has_a_low_and_high_per_headline_metric() -> None:
    block = interval_block(run_table(CLUSTERED, CLUSTERED_STEPS), 200, seed=3)
    assert set(block) == {"tasks"} | {f"{m}_ci_{e}" for m in HEADLINE for e in ("low", "high")}
    assert block["tasks"] == 12
    point = model_metrics(CLUSTERED, CLUSTERED_STEPS)
    for name in HEADLINE:
        assert block[f"{name}_ci_low"] <= point[name] <= block[f"{name}_ci_high"], name
    assert interval_block(run_table(CLUSTERED, CLUSTERED_STEPS), 200, seed=3) == block


def model_runs(model: str, parse_errors: dict[tuple[str, int], int]) -> list[RunResult]:
    """Two tasks, two runs each (k = 0, 1), 5 steps a run, the given parse errors."""
    return [
        run(f"{t}:{model}:{k}", k == 0, 5, parse_errors=parse_errors.get((t, k), 0))
        for t in ("t1", "t2")
        for k in (0, 1)
    ]


def test_paired_difference_is_exact_for_one_fewer_parse_error() -> None:
    """dpo makes one parse error fewer than sft on task t1, k = 1 (same seed); all else equal."""
    sft = run_table(model_runs("sft", {("t1", 1): 2, ("t2", 0): 1}), [])
    dpo = run_table(model_runs("dpo", {("t1", 1): 1, ("t2", 0): 1}), [])
    block = paired_differences(sft, dpo, 200, seed=0)
    assert block["runs"] == 4 and block["tasks"] == 2
    assert block["parse_error_rate_diff"] == -0.05  # (2 - 3) / 20 steps
    assert block["parse_error_rate_diff_ci_low"] <= -0.05 <= block["parse_error_rate_diff_ci_high"]
    assert block["parse_error_rate_diff_ci_high"] <= 0  # a resample never favours sft
    for name in HEADLINE:
        if name != "parse_error_rate":
            assert block[f"{name}_diff"] == 0.0
            assert block[f"{name}_diff_ci_low"] == block[f"{name}_diff_ci_high"] == 0.0


def test_paired_bootstrap_draws_the_tasks_once_for_both_models() -> None:
    """By hand: per resample draw two tasks, compute each model's rate on them, subtract."""
    sft_runs = model_runs("sft", {("t1", 0): 3, ("t2", 1): 1})
    dpo_runs = model_runs("dpo", {("t1", 0): 1})
    block = paired_differences(run_table(sft_runs, []), run_table(dpo_runs, []), 100, seed=4)

    def rate(runs: list[RunResult], tasks: list[str]) -> float:
        drawn = [r for t in tasks for r in runs if r.task_id == t]
        return sum(r.parse_errors for r in drawn) / sum(r.steps for r in drawn)

    rng = random.Random(4)
    diffs = []
    for _ in range(100):
        tasks = [rng.choice(["t1", "t2"]) for _ in range(2)]
        diffs.append(rate(dpo_runs, tasks) - rate(sft_runs, tasks))
    ordered = sorted(diffs)
    assert block["parse_error_rate_diff"] == -0.15  # (1 - 4) / 20
    assert block["parse_error_rate_diff_ci_low"] == pytest.approx(ordered[2], abs=1e-4)
    assert block["parse_error_rate_diff_ci_high"] == pytest.approx(ordered[96], abs=1e-4)


def test_only_runs_both_models_made_are_paired() -> None:
    sft = model_runs("sft", {("t2", 1): 5})
    dpo = [r for r in model_runs("dpo", {}) if r.run_id != "t2:dpo:1"]
    pa, pb = paired_runs(run_table(sft, []), run_table(dpo, []))
    assert sorted(zip(pa["task_id"], pa["k"], strict=True)) == [
        ("t1", "0"),
        ("t1", "1"),
        ("t2", "0"),
    ]
    assert sorted(pb["run_id"]) == ["t1:dpo:0", "t1:dpo:1", "t2:dpo:0"]
    block = paired_differences(run_table(sft, []), run_table(dpo, []), 100, seed=0)
    assert block["runs"] == 3 and block["tasks"] == 2
    assert block["parse_error_rate_diff"] == 0.0  # sft's bad run has no partner


def test_paired_difference_without_common_runs_is_zero() -> None:
    sft = run_table(model_runs("sft", {}), [])
    other = run_table([run("t9:dpo:0", True, 3)], [])
    block = paired_differences(sft, other, 100, seed=0)
    assert block["runs"] == block["tasks"] == 0
    assert all(v == 0 for v in block.values())


def trace_of(model: str, runs: list[RunResult]) -> Trace:
    return Trace(
        steps=[step(r.run_id, n) for r in runs for n in range(r.steps)],
        results=[ResultLine(policy=model, role=model, result=r) for r in runs],
    )


def test_eval_metrics_has_model_blocks_and_the_pairs_whose_models_ran() -> None:
    traces = {m: trace_of(m, model_runs(m, {("t1", 0): 1})) for m in ("base", "dpo", "teacher")}
    out = eval_metrics(traces, 100, seed=0)
    assert list(out) == ["base", "dpo", "teacher", "base_to_dpo"]  # no sft: no sft pairs
    assert set(METRIC_NAMES) < set(out["base"])
    assert out["base"]["success_rate_ci_low"] <= 0.5 <= out["base"]["success_rate_ci_high"]
    assert out["base_to_dpo"]["runs"] == 4
    assert all(isinstance(v, int | float) for b in out.values() for v in b.values())
    full = eval_metrics({m: traces["base"] for m in ("base", "sft", "dpo")}, 100, seed=0)
    assert list(full) == ["base", "sft", "dpo", "sft_to_dpo", "base_to_dpo", "base_to_sft"]
