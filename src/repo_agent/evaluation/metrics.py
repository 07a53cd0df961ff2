"""Run metrics, in one place: polars expressions over a runs table (one row per run) and a
steps table. The flat per-model block, the live totals, the breakdowns by category and
difficulty, the failure reasons, the task-clustered bootstrap intervals and the paired
differences between models all use these expressions."""

from __future__ import annotations

import random
from collections.abc import Mapping

import polars as pl

from repo_agent.records import RunResult, StepRecord
from repo_agent.traces import Trace

METRIC_NAMES = (
    "runs",
    "steps",
    "parse_errors",
    "parse_error_rate",
    "loop_detections",
    "loops_per_run",
    "avg_steps",
    "write_file_rate",
    "success_rate",
    "tool_call_validity",
)

RUNS_SCHEMA = {
    "task_id": pl.String,
    "run_id": pl.String,
    "success": pl.Boolean,
    "steps": pl.Int64,
    "parse_errors": pl.Int64,
    "loop_detections": pl.Int64,
    "wrote": pl.Boolean,  # reached a write_file call
    "error": pl.String,
    "category": pl.String,
    "difficulty": pl.String,
}
STEPS_SCHEMA = {"run_id": pl.String, "parse_error": pl.String, "tool_error": pl.Boolean}

# Run-level rates: each is one expression over a runs table (per run, except parse errors,
# which are per step).
RUN_RATES: dict[str, pl.Expr] = {
    "success_rate": pl.col("success").mean(),
    "write_file_rate": pl.col("wrote").mean(),
    "avg_steps": pl.col("steps").mean(),
    "loops_per_run": pl.col("loop_detections").mean(),
    "parse_error_rate": pl.col("parse_errors").sum() / pl.max_horizontal(pl.col("steps").sum(), 1),
}
# A step is a valid tool call when it parsed and its tool did not fail.
VALID_STEP = pl.col("parse_error").is_null() & ~pl.col("tool_error")
VALIDITY = VALID_STEP.mean()

# The headline metrics, each a ratio of sums over a run table (runs_frame plus the step counts
# of run_table), so each can be recomputed on any resample of tasks. tool_call_validity and
# parse_error_rate count steps, the others runs.
HEADLINE: dict[str, pl.Expr] = {
    "parse_error_rate": RUN_RATES["parse_error_rate"],
    "loops_per_run": RUN_RATES["loops_per_run"],
    "tool_call_validity": pl.col("valid_steps").sum()
    / pl.max_horizontal(pl.col("step_records").sum(), 1),
    "write_file_rate": RUN_RATES["write_file_rate"],
    "success_rate": RUN_RATES["success_rate"],
    "avg_steps": RUN_RATES["avg_steps"],
}
# Model pairs (a, b) whose paired difference b - a goes into metrics/eval.json as `a_to_b`.
# Then the constrained arms: what the grammar adds to each model, and grammar alone (on the base
# model) against fine-tuning alone and against both together.
PAIRS = (
    ("sft", "dpo"),
    ("base", "dpo"),
    ("base", "sft"),
    ("base", "base+grammar"),
    ("sft", "sft+grammar"),
    ("dpo", "dpo+grammar"),
    ("base+grammar", "dpo"),
    ("base+grammar", "dpo+grammar"),
)


def runs_frame(results: list[RunResult]) -> pl.DataFrame:
    """One row per run with the columns the metrics read."""
    return pl.DataFrame(
        [
            {
                "task_id": r.task_id,
                "run_id": r.run_id,
                "success": r.success,
                "steps": r.steps,
                "parse_errors": r.parse_errors,
                "loop_detections": r.loop_detections,
                "wrote": r.tool_breakdown.get("write_file", 0) > 0,
                "error": r.error,
                "category": r.metadata.category,
                "difficulty": r.metadata.difficulty,
            }
            for r in results
        ],
        schema=RUNS_SCHEMA,
    )


def steps_frame(steps: list[StepRecord]) -> pl.DataFrame:
    """One row per step: its run, its parse-error code (or null) and whether its tool failed."""
    return pl.DataFrame(
        [
            {"run_id": s.run_id, "parse_error": s.parse_error, "tool_error": s.tool_error}
            for s in steps
        ],
        schema=STEPS_SCHEMA,
    )


def _round(value: float | None) -> float:
    return round(float(value), 4) if value is not None else 0.0


def run_totals(results: list[RunResult]) -> dict[str, int]:
    """Counts over finished runs: runs, successes, steps, parse errors, loop detections."""
    row = runs_frame(results).select(
        runs=pl.len(),
        successes=pl.col("success").sum(),
        steps=pl.col("steps").sum(),
        parse_errors=pl.col("parse_errors").sum(),
        loop_detections=pl.col("loop_detections").sum(),
    )
    return {k: int(v) for k, v in row.row(0, named=True).items()}


def model_metrics(results: list[RunResult], steps: list[StepRecord]) -> dict[str, float]:
    """The flat metrics block of one model (rates rounded to 4 places; 0.0 with no runs).

    parse_error_rate and tool_call_validity are per step; write_file_rate and success_rate per run.
    """
    runs = runs_frame(results)
    rates = runs.select(**RUN_RATES).row(0, named=True) if runs.height else {}
    validity = steps_frame(steps).select(VALIDITY).item() if steps else None
    totals = run_totals(results)
    return {
        "runs": totals["runs"],
        "steps": totals["steps"],
        "parse_errors": totals["parse_errors"],
        "parse_error_rate": _round(rates.get("parse_error_rate")) if totals["steps"] else 0.0,
        "loop_detections": totals["loop_detections"],
        "loops_per_run": _round(rates.get("loops_per_run")),
        "avg_steps": _round(rates.get("avg_steps")),
        "write_file_rate": _round(rates.get("write_file_rate")),
        "success_rate": _round(rates.get("success_rate")),
        "tool_call_validity": _round(validity),
    }


def run_table(results: list[RunResult], steps: list[StepRecord]) -> pl.DataFrame:
    """runs_frame plus each run's step records and valid tool calls (what HEADLINE reads)."""
    counts = (
        steps_frame(steps)
        .group_by("run_id")
        .agg(step_records=pl.len(), valid_steps=VALID_STEP.sum())
    )
    return (
        runs_frame(results)
        .join(counts, on="run_id", how="left", maintain_order="left")
        .with_columns(pl.col("step_records", "valid_steps").fill_null(0).cast(pl.Int64))
    )


def task_draws(tasks: list[str], samples: int, seed: int) -> pl.DataFrame:
    """`samples` resamples of `tasks` with replacement, seeded: one row (sample, task_id) a draw.

    task_draws(["a", "b"], 2, seed) has rows like (0, "b"), (0, "b"), (1, "a"), (1, "b").
    """
    rng = random.Random(seed)
    n = len(tasks)
    return pl.DataFrame(
        {
            "sample": [i // n for i in range(samples * n)],
            "task_id": [tasks[rng.randrange(n)] for _ in range(samples * n)],
        },
        schema={"sample": pl.Int64, "task_id": pl.String},
    )


def _resampled(
    runs: pl.DataFrame, draws: pl.DataFrame, metrics: Mapping[str, pl.Expr]
) -> pl.DataFrame:
    """Each metric on each resample (one row a sample, in order): a drawn task brings all its
    runs, once per time it was drawn."""
    return draws.join(runs, on="task_id").group_by("sample").agg(**metrics).sort("sample")


def _interval(values: pl.Series) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles (nearest lower rank) of bootstrap values."""
    v = values.sort()
    n = len(v)
    return float(v[int(0.025 * (n - 1))]), float(v[int(0.975 * (n - 1))])


def _tasks(runs: pl.DataFrame) -> list[str]:
    # Sorted, so the draws depend on which tasks ran, not on the order runs finished in.
    return sorted(runs.get_column("task_id").unique().to_list())


def bootstrap_cis(
    runs: pl.DataFrame, metrics: Mapping[str, pl.Expr], samples: int, seed: int
) -> dict[str, tuple[float, float]]:
    """95% percentile bootstrap intervals clustered by task: each of `samples` resamples draws
    the tasks with replacement (seeded), each with all its runs, and recomputes every metric."""
    if runs.height == 0:
        return dict.fromkeys(metrics, (0.0, 0.0))
    values = _resampled(runs, task_draws(_tasks(runs), samples, seed), metrics)
    return {name: _interval(values.get_column(name)) for name in metrics}


def interval_block(runs: pl.DataFrame, samples: int, seed: int) -> dict[str, float]:
    """`<metric>_ci_low` / `<metric>_ci_high` of every headline metric of a run table (rounded),
    and `tasks`, the number of clusters they were drawn from."""
    out: dict[str, float] = {"tasks": runs.get_column("task_id").n_unique()}
    for name, (lo, hi) in bootstrap_cis(runs, HEADLINE, samples, seed).items():
        out[f"{name}_ci_low"] = _round(lo)
        out[f"{name}_ci_high"] = _round(hi)
    return out


def paired_runs(a: pl.DataFrame, b: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The runs of `a` and of `b` on the same task with the same index k (run ids
    `<task>:<model>:<k>`, seed eval.seed + k): the runs both models made, with a `k` column."""
    key = ["task_id", "k"]
    ka, kb = (r.with_columns(k=pl.col("run_id").str.split(":").list.last()) for r in (a, b))
    return ka.join(kb, on=key, how="semi"), kb.join(ka, on=key, how="semi")


def paired_differences(
    a: pl.DataFrame, b: pl.DataFrame, samples: int, seed: int
) -> dict[str, float]:
    """b - a of each headline metric on the runs both made, `<metric>_diff` with a paired
    task-clustered bootstrap interval (`_diff_ci_low`, `_diff_ci_high`: one draw of tasks per
    resample, both models on that draw), and the paired `runs` and `tasks` counted.

    If dpo (b) made one parse error fewer than sft (a) over the 20 paired steps,
    parse_error_rate_diff is -0.05.
    """
    pa, pb = paired_runs(a, b)
    out: dict[str, float] = {"runs": pa.height, "tasks": pa.get_column("task_id").n_unique()}
    if pa.height == 0:
        for name in HEADLINE:
            out |= {f"{name}_diff": 0.0, f"{name}_diff_ci_low": 0.0, f"{name}_diff_ci_high": 0.0}
        return out
    point_a, point_b = (r.select(**HEADLINE).row(0, named=True) for r in (pa, pb))
    draws = task_draws(_tasks(pa), samples, seed)
    values_a, values_b = (_resampled(r, draws, HEADLINE) for r in (pa, pb))
    for name in HEADLINE:
        lo, hi = _interval(values_b.get_column(name) - values_a.get_column(name))
        out[f"{name}_diff"] = _round(point_b[name] - point_a[name])
        out[f"{name}_diff_ci_low"] = _round(lo)
        out[f"{name}_diff_ci_high"] = _round(hi)
    return out


def pair_name(a: str, b: str) -> str:
    """The metrics/eval.json block of the paired difference b - a.

    >>> pair_name("sft", "dpo")
    'sft_to_dpo'
    """
    return f"{a}_to_{b}"


def eval_metrics(
    traces: Mapping[str, Trace], samples: int, seed: int
) -> dict[str, dict[str, float]]:
    """metrics/eval.json less usage: per model its flat block with task-clustered intervals of
    the headline metrics, then one paired-difference block per pair in PAIRS whose two models
    both ran (`samples` bootstrap draws, seeded)."""
    out: dict[str, dict[str, float]] = {}
    tables: dict[str, pl.DataFrame] = {}
    for model, trace in traces.items():
        results = [line.result for line in trace.results]
        tables[model] = run_table(results, trace.steps)
        out[model] = model_metrics(results, trace.steps) | interval_block(
            tables[model], samples, seed
        )
    for a, b in PAIRS:
        if a in tables and b in tables:
            out[pair_name(a, b)] = paired_differences(tables[a], tables[b], samples, seed)
    return out


def breakdown(runs: pl.DataFrame, key: str) -> dict[str, dict[str, float]]:
    """Runs, success, write and parse-error rates per metadata value (category or difficulty)."""
    table = (
        runs.group_by(key)
        .agg(
            runs=pl.len(),
            **{k: RUN_RATES[k] for k in ("success_rate", "write_file_rate", "parse_error_rate")},
        )
        .sort(key)
    )
    return {
        row.pop(key): {k: (int(v) if k == "runs" else _round(v)) for k, v in row.items()}
        for row in table.iter_rows(named=True)
    }


def failure_reasons(runs: pl.DataFrame, steps: pl.DataFrame, top: int = 5) -> list[tuple[str, int]]:
    """The most common reasons runs failed (run errors, no write, failing fix) and parse-error
    codes; ties keep the order of first appearance."""
    run_reasons = runs.filter(~pl.col("success")).select(
        reason=pl.when(pl.col("error").is_not_null())
        .then(pl.col("error").str.split("(").list.first().str.strip_chars())
        .when(~pl.col("wrote"))
        .then(pl.lit("finished without writing a fix"))
        .otherwise(pl.lit("wrote a fix that fails the tests"))
    )
    step_reasons = steps.filter(pl.col("parse_error").is_not_null()).select(
        reason=pl.lit("parse error: ") + pl.col("parse_error")
    )
    counts = (
        pl.concat([run_reasons, step_reasons])
        .with_row_index("first")
        .group_by("reason")
        .agg(count=pl.len(), first=pl.col("first").min())
        .sort(["count", "first"], descending=[True, False])
        .head(top)
    )
    return [(r, int(c)) for r, c in counts.select("reason", "count").iter_rows()]
