"""Evaluation metrics over run results: one flat block of numbers per model."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Callable

from repo_agent.records import ResultLine, RunResult, StepRecord

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


def reached_write(r: RunResult) -> bool:
    return r.tool_breakdown.get("write_file", 0) > 0


def model_metrics(results: list[RunResult], steps: list[StepRecord]) -> dict[str, float]:
    """The flat metrics block of one model.

    parse_error_rate and tool_call_validity are per step; write_file_rate and success_rate per run.
    """
    n = len(results)
    total_steps = sum(r.steps for r in results)
    parse_errors = sum(r.parse_errors for r in results)
    loops = sum(r.loop_detections for r in results)
    valid_calls = sum(1 for s in steps if s.parse_error is None and not s.tool_error)
    return {
        "runs": n,
        "steps": total_steps,
        "parse_errors": parse_errors,
        "parse_error_rate": round(parse_errors / total_steps, 4) if total_steps else 0.0,
        "loop_detections": loops,
        "loops_per_run": round(loops / n, 4) if n else 0.0,
        "avg_steps": round(total_steps / n, 4) if n else 0.0,
        "write_file_rate": round(sum(map(reached_write, results)) / n, 4) if n else 0.0,
        "success_rate": round(sum(r.success for r in results) / n, 4) if n else 0.0,
        "tool_call_validity": round(valid_calls / len(steps), 4) if steps else 0.0,
    }


RUN_METRICS: dict[str, Callable[[list[RunResult]], float]] = {
    "success_rate": lambda rs: sum(r.success for r in rs) / len(rs),
    "write_file_rate": lambda rs: sum(map(reached_write, rs)) / len(rs),
    "avg_steps": lambda rs: statistics.mean(r.steps for r in rs),
    "loops_per_run": lambda rs: statistics.mean(r.loop_detections for r in rs),
    "parse_error_rate": lambda rs: (
        sum(r.parse_errors for r in rs) / max(1, sum(r.steps for r in rs))
    ),
}


def bootstrap_ci(
    results: list[RunResult], metric: Callable[[list[RunResult]], float], samples: int, seed: int
) -> tuple[float, float]:
    """95% percentile bootstrap interval of a run-level metric (resampling runs)."""
    if not results:
        return (0.0, 0.0)
    rng = random.Random(seed)
    values = sorted(metric([rng.choice(results) for _ in results]) for _ in range(samples))
    return values[int(0.025 * (samples - 1))], values[int(0.975 * (samples - 1))]


def breakdown(results: list[RunResult], key: str) -> dict[str, dict[str, float]]:
    """success and write rates per metadata value (category or difficulty)."""
    groups: dict[str, list[RunResult]] = {}
    for r in results:
        groups.setdefault(getattr(r.metadata, key), []).append(r)
    return {
        g: {
            "runs": len(rs),
            "success_rate": round(RUN_METRICS["success_rate"](rs), 4),
            "write_file_rate": round(RUN_METRICS["write_file_rate"](rs), 4),
            "parse_error_rate": round(RUN_METRICS["parse_error_rate"](rs), 4),
        }
        for g, rs in sorted(groups.items())
    }


def failure_reasons(
    results: list[RunResult], steps: list[StepRecord], top: int = 5
) -> list[tuple[str, int]]:
    """The most common reasons runs failed: run errors and parse-error codes."""
    reasons: Counter[str] = Counter()
    for r in results:
        if r.success:
            continue
        if r.error:
            reasons[r.error.split("(")[0].strip()] += 1
        elif r.tool_breakdown.get("write_file", 0) == 0:
            reasons["finished without writing a fix"] += 1
        else:
            reasons["wrote a fix that fails the tests"] += 1
    for s in steps:
        if s.parse_error:
            reasons[f"parse error: {s.parse_error}"] += 1
    return reasons.most_common(top)


def results_of(lines: list[ResultLine]) -> list[RunResult]:
    return [line.result for line in lines]
