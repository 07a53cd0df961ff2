"""Run metrics, in one place: polars expressions over a runs table (one row per run) and a
steps table. The flat per-model block, the live totals, the breakdowns by category and
difficulty, the failure reasons and the bootstrap intervals all use these expressions."""

from __future__ import annotations

import random

import polars as pl

from repo_agent.records import RunResult, StepRecord

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
VALIDITY = (pl.col("parse_error").is_null() & ~pl.col("tool_error")).mean()


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


def bootstrap_ci(
    runs: pl.DataFrame, metric: pl.Expr, samples: int, seed: int
) -> tuple[float, float]:
    """95% percentile bootstrap interval of a run-level metric (resampling runs, seeded)."""
    n = runs.height
    if n == 0:
        return (0.0, 0.0)
    rng = random.Random(seed)
    picks = [rng.randrange(n) for _ in range(samples * n)]
    values = (
        runs[picks]
        .with_columns(sample=pl.int_range(samples * n) // n)
        .group_by("sample")
        .agg(metric.alias("value"))
        .get_column("value")
        .sort()
    )
    return float(values[int(0.025 * (samples - 1))]), float(values[int(0.975 * (samples - 1))])


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
