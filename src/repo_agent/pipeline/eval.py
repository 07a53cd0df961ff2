"""The eval step, one model per call: roll it out on the held-out set (one greedy run and
`eval.samples` sampled runs per task, the same seeds for every model)."""

from __future__ import annotations

import json
from pathlib import Path

from repo_agent.pipeline import paths
from repo_agent.pipeline.params import Params, split_arm
from repo_agent.pipeline.runs import record_runs
from repo_agent.pipeline.served import model_endpoint, served_policy
from repo_agent.policies.config import PolicyConfig
from repo_agent.policies.factory import batch_size_for, make_policy
from repo_agent.runtime.agent import RunSpec, run_specs
from repo_agent.runtime.task import Task, load_task_tree
from repo_agent.suites.loader import configured_tasks
from repo_agent.traces import TraceWriter


def model_policy_config(
    params: Params, arm: str, temperature: float = 0.0, endpoint: str | None = None
) -> PolicyConfig:
    """How eval arm `arm` (a model, or `<model>+grammar`) is served in its eval runs (greedy
    unless a temperature is given; `endpoint`: the name of the endpoint serving it)."""
    model, constrained = split_arm(arm)
    cfg = served_policy(params, model, temperature, paths.CACHE_EVAL / arm, endpoint=endpoint)
    if constrained:  # validated again: an oracle cannot be constrained
        cfg = PolicyConfig(**(cfg.model_dump() | {"constrain": "json_schema"}))
    return cfg


def heldout_tasks(params: Params) -> list[Task]:
    """The held-out set the heldout stage chose: held-out tasks plus their programs' mutants."""
    if not paths.HELDOUT_TASKS.is_file():
        raise FileNotFoundError(f"{paths.HELDOUT_TASKS}: missing; run the heldout stage first")
    ids = set(json.loads(paths.HELDOUT_TASKS.read_text(encoding="utf-8"))["tasks"])
    pool = configured_tasks(params.suite, paths.MUTANTS)
    if paths.HELDOUT_MUTANTS.is_dir():
        pool += load_task_tree(paths.HELDOUT_MUTANTS, "mutants")
    by_id = {t.id: t for t in pool}
    missing = sorted(ids - by_id.keys())
    if missing:
        raise ValueError(f"{paths.HELDOUT_TASKS}: task(s) not in the suite: {', '.join(missing)}")
    return [by_id[i] for i in sorted(ids)]


def eval_specs(
    tasks: list[Task], model: str, samples: int, seed: int
) -> tuple[list[RunSpec], list[RunSpec]]:
    """(greedy runs k=0, sampled runs k=1..samples): ids `<task>:<model>:<k>`, seeds seed+k."""
    runs = run_specs(tasks, model, samples + 1, seed)
    return [s for s in runs if s.run_id.endswith(":0")], [
        s for s in runs if not s.run_id.endswith(":0")
    ]


def run_eval(params: Params, arm: str) -> int:
    """Roll out eval arm `arm` on the held-out set into data/eval/<arm>.jsonl; returns the
    number of runs."""
    model, _ = split_arm(arm)  # a clear error for an unknown arm before any work
    tasks = heldout_tasks(params)
    if not tasks:
        raise ValueError(f"{paths.HELDOUT_TASKS}: no held-out tasks")
    ev = params.eval
    trace_path = paths.eval_trace(arm)
    trace_path.unlink(missing_ok=True)
    writer = TraceWriter(trace_path)
    greedy, sampled = eval_specs(tasks, arm, ev.samples, ev.seed)
    n = 0
    # One endpoint (if the model is served by one) for both passes, stopped after them.
    with model_endpoint(params, model, paths.CACHE_EVAL / arm) as endpoint:
        for specs, temperature, label in (
            (greedy, 0.0, "greedy"),
            (sampled, ev.temperature, "sampled"),
        ):
            if not specs:
                continue
            cfg = model_policy_config(params, arm, temperature, endpoint)
            Path(cfg.cache_dir).mkdir(parents=True, exist_ok=True)
            policy = make_policy(cfg, tasks, params.agent.tool_protocol, name=arm)
            lines = record_runs(
                specs, policy, params.agent, writer, f"eval {arm} {label}", batch_size_for(cfg)
            )
            n += len(lines)
    return n
