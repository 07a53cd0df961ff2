"""The report step: the per-model eval traces in, `metrics/eval.json` (one flat block a model),
the Markdown/HTML report and the plot data out."""

from __future__ import annotations

from typing import Any

from repo_agent.evaluation.metrics import model_metrics
from repo_agent.evaluation.report import write_report
from repo_agent.pipeline import paths
from repo_agent.pipeline.params import Params
from repo_agent.records import Usage
from repo_agent.traces import read_trace


def run_report(params: Params) -> dict[str, Any]:
    """Metrics of every model in `eval.models` from its eval trace; writes the report."""
    ev = params.eval
    metrics: dict[str, Any] = {}
    for model in ev.models:
        path = paths.eval_trace(model)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no eval trace; run the eval@{model} stage first")
        trace = read_trace(path)
        usage = sum((r.usage for r in trace.results), Usage())
        metrics[model] = model_metrics([r.result for r in trace.results], trace.steps) | {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cost_usd": round(usage.cost_usd, 6),
        }
    traces = {m: paths.eval_trace(m) for m in ev.models}
    write_report(traces, metrics, paths.REPORTS, paths.PLOTS, ev.bootstrap_samples, ev.seed)
    return metrics
