"""Step `eval@<model>` (and `eval_grammar@<model>`, the arm `<model>+grammar`), one arm per
call: roll it out on the held-out set (one greedy run and `eval.samples` sampled runs per task,
the same seeds for every model)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.params import Params, eval_stage, split_arm
from repo_agent.pipeline.runs import record_runs
from repo_agent.pipeline.served import model_endpoint, served_policy
from repo_agent.policies.config import HFConfig, PolicyConfig, replace_policy
from repo_agent.policies.factory import batch_size_for, make_policy
from repo_agent.progress import console
from repo_agent.runtime.episode import RunSpec, run_specs
from repo_agent.runtime.sandbox import TRUSTED_POLICIES, SandboxError, choose_sandbox
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
    if constrained:
        if cfg.kind == "oracle":
            raise ValueError(f"{arm}: the oracle writes valid actions by construction")
        cfg = replace_policy(cfg, constrain="json_schema")
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


def _run_pass(
    params: Params,
    arm: str,
    label: str,
    endpoint: str | None,
    trace: Path,
    threads: int | None = None,
    results: Path | None = None,
) -> int:
    """One pass of eval arm `arm` (`greedy`: k = 0, or `sampled`: k = 1…) appended to `trace`
    (and its result lines to `results`, if given); `threads`: torch threads, for a pass that
    runs in a process of its own."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    tasks = heldout_tasks(params)
    ev = params.eval
    greedy, sampled = eval_specs(tasks, arm, ev.samples, ev.seed)
    specs, temperature = (greedy, 0.0) if label == "greedy" else (sampled, ev.temperature)
    cfg = model_policy_config(params, arm, temperature, endpoint)
    Path(cfg.cache_dir).mkdir(parents=True, exist_ok=True)
    policy = make_policy(cfg, tasks, params.agent.tool_protocol, name=arm)
    writer = TraceWriter(trace, results_path=results)
    return len(
        record_runs(specs, policy, params.agent, writer, f"eval {arm} {label}", batch_size_for(cfg))
    )


def runs_on_this_cpu(cfg: PolicyConfig) -> bool:
    """Whether the policy computes on this machine's CPU (an hf model without CUDA): then its
    greedy and sampled passes, independent runs, go side by side in two processes."""
    return isinstance(cfg, HFConfig) and cfg.device == "cpu"


def _side_by_side(
    params: Params, arm: str, tasks: int, labels: list[str], endpoint: str | None, trace: Path
) -> int:
    """The passes in `labels` over `tasks` held-out tasks at once, one process and one torch
    thread each (the same batches as one after the other), their traces joined into `trace`
    in pass order. Each worker's log goes to a file (their bars would garble); a live bar per
    pass counts the lines of its results file instead."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, wait

    from repo_agent.progress import progress_bar

    parts = {label: trace.with_name(f"{trace.stem}.{label}.part.jsonl") for label in labels}
    done = {label: part.with_suffix(".results") for label, part in parts.items()}
    for path in [*parts.values(), *done.values()]:
        path.unlink(missing_ok=True)
    log = trace.with_name(f"{trace.stem}.part.log")
    log.write_text("", encoding="utf-8")
    totals = {"greedy": tasks, "sampled": tasks * params.eval.samples}
    spawn = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(len(labels), spawn, initializer=_to_log, initargs=(str(log),))
    with pool, progress_bar() as bar:
        jobs = {
            label: bar.add_task(f"eval {arm} {label}", total=totals[label], info="")
            for label in labels
        }
        futures = [
            pool.submit(_run_pass, params, arm, label, endpoint, parts[label], 1, done[label])
            for label in labels
        ]
        running = True
        while running:
            running = bool(wait(futures, timeout=0.5).not_done)
            for label, path in done.items():
                if path.is_file():
                    bar.update(jobs[label], completed=len(path.read_bytes().splitlines()))
    try:
        n = sum(f.result() for f in futures)
    except BaseException:
        print(log.read_text(encoding="utf-8")[-4000:], file=sys.stderr)
        raise
    with trace.open("a", encoding="utf-8") as out:
        for part in parts.values():
            out.write(part.read_text(encoding="utf-8"))
    for path in [*parts.values(), *done.values(), log]:
        path.unlink()
    return n


def _to_log(path: str) -> None:
    """A side-by-side worker's stdout and stderr go to the pass log (its bars would garble)."""
    fh = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - the process's lifetime
    sys.stdout = sys.stderr = fh


def run_eval(params: Params, arm: str) -> int:
    """Roll out eval arm `arm` on the held-out set into data/eval/<arm>.jsonl; returns the
    number of runs."""
    model, _ = split_arm(arm)  # a clear error for an unknown arm before any work
    tasks = heldout_tasks(params)
    if not tasks:
        raise ValueError(f"{paths.HELDOUT_TASKS}: no held-out tasks")
    labels = ["greedy"] + (["sampled"] if params.eval.samples else [])
    trace_path = paths.eval_trace(arm)
    trace_path.unlink(missing_ok=True)
    trace_path.parent.mkdir(parents=True, exist_ok=True)
    # One endpoint (if the model is served by one) for both passes, stopped after them.
    with model_endpoint(params, model, paths.CACHE_EVAL / arm) as endpoint:
        cfg = model_policy_config(params, arm, 0.0, endpoint)
        if len(labels) > 1 and runs_on_this_cpu(cfg):
            # The workers' own sandbox line goes to their log: say it here, before they start.
            if params.agent.test_policy != "never":
                trusted = cfg.kind in TRUSTED_POLICIES
                note = choose_sandbox(params.agent.sandbox, trusted, f"eval {arm}").note
                console.print(f"eval {arm}: {note}")
            return _side_by_side(params, arm, len(tasks), labels, endpoint, trace_path)
        return sum(_run_pass(params, arm, label, endpoint, trace_path) for label in labels)


def main() -> None:
    """Usage: python -m repo_agent.pipeline.eval ARM (a model, or `<model>+grammar`)."""
    arm = sys.argv[1] if len(sys.argv) > 1 else ""
    stage = eval_stage(arm) if arm else "eval"
    with timed_stage(stage, user_errors=(SandboxError,)):
        runs = run_eval(stage_params(), arm)
        print(f"{stage}: {runs} runs")


if __name__ == "__main__":
    main()
