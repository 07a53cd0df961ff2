"""The eval step, one model per call: roll it out on the held-out tasks with the eval seeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

from repo_agent.pipeline import paths
from repo_agent.pipeline.params import EvalModel, Params
from repo_agent.pipeline.runs import record_runs
from repo_agent.policies.config import PolicyConfig
from repo_agent.policies.factory import batch_size_for, make_policy
from repo_agent.runtime.agent import run_specs
from repo_agent.runtime.task import Task
from repo_agent.suites.loader import configured_tasks
from repo_agent.traces import TraceWriter
from repo_agent.training.student import student_model_path


def model_policy_config(params: Params, model: EvalModel) -> PolicyConfig:
    """How each evaluated model is served: local weights, or the remote fine-tuned name."""
    cache_dir = str(paths.CACHE_EVAL / model)
    if model == "teacher":
        return params.teacher.model_copy(update={"explore": 0.0, "cache_dir": cache_dir})
    update: dict[str, Any] = {"temperature": params.eval.temperature, "cache_dir": cache_dir}
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


def run_eval(params: Params, model: EvalModel) -> int:
    """Roll out `model` on the held-out tasks into data/eval/<model>.jsonl; returns the runs."""
    if model not in get_args(EvalModel):
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(get_args(EvalModel))}")
    tasks = heldout_tasks(params)
    if not tasks:
        raise ValueError(f"{paths.SPLIT_TASKS}: no held-out tasks found in the suite")
    cfg = model_policy_config(params, model)
    Path(cfg.cache_dir).mkdir(parents=True, exist_ok=True)
    policy = make_policy(cfg, tasks, params.agent.tool_protocol, name=model)
    trace_path = paths.eval_trace(model)
    trace_path.unlink(missing_ok=True)
    specs = run_specs(tasks, model, params.eval.rollouts, params.eval.seed)
    writer = TraceWriter(trace_path)
    lines = record_runs(specs, policy, params.agent, writer, f"eval {model}", batch_size_for(cfg))
    return len(lines)
