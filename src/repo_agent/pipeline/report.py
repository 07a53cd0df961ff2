"""The report step: the per-model eval traces in; `metrics/eval.json` (one flat block a model,
with task-clustered bootstrap intervals, and one block a model pair with paired differences),
the Markdown/HTML report and the plot data out."""

from __future__ import annotations

from typing import Any

from repo_agent.evaluation.metrics import eval_metrics
from repo_agent.evaluation.report import write_report
from repo_agent.pipeline import paths
from repo_agent.pipeline.params import Params
from repo_agent.records import Usage
from repo_agent.traces import read_trace


def run_report(params: Params) -> dict[str, Any]:
    """Metrics of every model in `eval.models` from its eval trace, and the paired differences
    between them (seeded by eval.seed); writes the report."""
    ev = params.eval
    traces = {}
    for model in ev.models:
        path = paths.eval_trace(model)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no eval trace; run the eval@{model} stage first")
        traces[model] = read_trace(path)
    metrics: dict[str, Any] = eval_metrics(traces, ev.bootstrap_samples, ev.seed)
    for model, trace in traces.items():
        usage = sum((r.usage for r in trace.results), Usage())
        metrics[model] |= {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cost_usd": round(usage.cost_usd, 6),
        }
    write_report(
        {m: paths.eval_trace(m) for m in ev.models},
        metrics,
        paths.REPORTS,
        paths.PLOTS,
        ev.bootstrap_samples,
        ev.seed,
    )
    return metrics
