"""Step `report`: the per-model eval traces in; `metrics/eval.json` (one flat block a model,
with task-clustered bootstrap intervals, and one block a model pair with paired differences),
the Markdown/HTML report and the plot data out."""

from __future__ import annotations

from typing import Any

from repo_agent.evaluation.metrics import eval_metrics
from repo_agent.evaluation.report import write_report
from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.params import Params, eval_stage
from repo_agent.records import Usage
from repo_agent.traces import read_trace


def usage_block(usage: Usage) -> dict[str, float]:
    """Tokens, cost and generation time of an arm's runs (time per completion token in ms).

    >>> usage_block(Usage(completion_tokens=400, decode_s=2.0))["decode_ms_per_token"]
    5.0
    """
    per_token = 1000 * usage.decode_s / usage.completion_tokens if usage.completion_tokens else 0.0
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost_usd": round(usage.cost_usd, 6),
        "decode_s": round(usage.decode_s, 3),
        "decode_ms_per_token": round(per_token, 4),
    }


def run_report(params: Params) -> dict[str, Any]:
    """Metrics of every eval arm (eval.models, then eval.grammar's `<model>+grammar`) from its
    eval trace, and the paired differences between them (seeded by eval.seed); writes the
    report."""
    ev = params.eval
    traces = {}
    for arm in ev.arms():
        path = paths.eval_trace(arm)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no eval trace; run the {eval_stage(arm)} stage first")
        traces[arm] = read_trace(path)
    metrics: dict[str, Any] = eval_metrics(traces, ev.bootstrap_samples, ev.seed)
    for arm, trace in traces.items():
        metrics[arm] |= usage_block(sum((r.usage for r in trace.results), Usage()))
    write_report(
        {m: paths.eval_trace(m) for m in ev.arms()},
        metrics,
        paths.REPORTS,
        paths.PLOTS,
        ev.bootstrap_samples,
        ev.seed,
    )
    return metrics


def main() -> None:
    with timed_stage("report"):
        write_json(paths.METRICS / "eval.json", run_report(stage_params()))


if __name__ == "__main__":
    main()
