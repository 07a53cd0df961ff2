"""The eval step: roll out base, SFT, DPO and the teacher on held-out tasks with equal seeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from repo_agent.evaluation.metrics import model_metrics
from repo_agent.evaluation.report import write_report
from repo_agent.pipeline import paths
from repo_agent.pipeline.params import Params
from repo_agent.pipeline.runs import record_runs
from repo_agent.policies.config import PolicyConfig
from repo_agent.policies.factory import batch_size_for, make_policy
from repo_agent.records import Usage
from repo_agent.runtime.agent import run_specs
from repo_agent.runtime.task import Task
from repo_agent.suites.loader import configured_tasks
from repo_agent.traces import TraceWriter, read_trace
from repo_agent.training.student import student_model_path


def model_policy_config(params: Params, model: str) -> PolicyConfig:
    """How each evaluated model is served: local weights, or the remote fine-tuned name."""
    if model == "teacher":
        return params.teacher.model_copy(
            update={"explore": 0.0, "cache_dir": str(paths.CACHE_EVAL)}
        )
    update: dict[str, Any] = {
        "temperature": params.eval.temperature,
        "cache_dir": str(paths.CACHE_EVAL),
    }
    if model == "base":
        update["model"] = student_model_path(params.student.model, paths.MODELS_BASE)
    else:
        local = paths.MODELS_SFT if model == "sft" else paths.MODELS_DPO
        remote = local / paths.REMOTE_MODEL_FILE
        if remote.is_file():
            info = json.loads(remote.read_text(encoding="utf-8"))
            update |= {"kind": info["provider"], "model": info["model"]}
        else:
            update |= {"kind": "hf", "model": str(local)}
    return params.student.policy(**update)


def heldout_tasks(params: Params) -> list[Task]:
    """The suite's tasks that the split put in the held-out set."""
    ids = set(json.loads(paths.SPLIT_TASKS.read_text(encoding="utf-8"))["heldout"])
    return [t for t in configured_tasks(params.suite, paths.MUTANTS) if t.id in ids]


def run_eval(params: Params) -> dict[str, Any]:
    """Roll out each model on the held-out tasks; returns metrics/eval.json (one block a model)."""
    tasks = heldout_tasks(params)
    if not tasks:
        raise ValueError(f"{paths.SPLIT_TASKS}: no held-out tasks found in the suite")
    paths.CACHE_EVAL.mkdir(parents=True, exist_ok=True)
    ev = params.eval
    proto = params.agent.tool_protocol
    metrics: dict[str, Any] = {}
    traces: dict[str, Path] = {}
    for model in ev.models:
        cfg = model_policy_config(params, model)
        policy = make_policy(cfg, tasks, proto, name=model)
        trace_path = paths.EVAL_TRACES / f"{model}.jsonl"
        trace_path.unlink(missing_ok=True)
        specs = run_specs(tasks, model, ev.rollouts, ev.seed)
        writer = TraceWriter(trace_path)
        record_runs(specs, policy, params.agent, writer, f"eval {model}", batch_size_for(cfg))
        trace = read_trace(trace_path)
        metrics[model] = model_metrics([r.result for r in trace.results], trace.steps)
        usage = sum((r.usage for r in trace.results), Usage())
        metrics[model] |= {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cost_usd": round(usage.cost_usd, 6),
        }
        traces[model] = trace_path
    write_report(traces, metrics, paths.REPORTS, paths.PLOTS, ev.bootstrap_samples, ev.seed)
    return metrics
