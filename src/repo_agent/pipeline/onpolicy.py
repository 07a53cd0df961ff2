"""Step `onpolicy` (DAgger / step-level preference recipe): the SFT student acts on the
train tasks, the teacher labels every state it reached, and the rubric pairs the teacher's
action against the student's on that same state. The runs do not depend on the rubric, so a
rubric change reruns the pairing only."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.params import Params
from repo_agent.pipeline.paths import ONPOLICY_LABELS, ONPOLICY_TRACE
from repo_agent.pipeline.runs import label_student_states, record_runs, reset_if_changed
from repo_agent.pipeline.served import (
    labeller_config,
    model_endpoint,
    model_fingerprint,
    served_policy,
)
from repo_agent.policies.factory import batch_size_for, make_policy
from repo_agent.runtime.episode import run_specs
from repo_agent.runtime.sandbox import SandboxError
from repo_agent.runtime.task import Task
from repo_agent.suites.loader import configured_tasks
from repo_agent.traces import TraceWriter, read_trace


def train_tasks(params: Params, split_tasks: Path, mutants_dir: Path) -> list[Task]:
    """The suite's tasks that the split put in the training set."""
    ids = set(json.loads(split_tasks.read_text(encoding="utf-8"))["train"])
    return [t for t in configured_tasks(params.suite, mutants_dir) if t.id in ids]


def onpolicy_fingerprint(params: Params, model_dir: Path, tasks: list[Task]) -> str:
    """What the on-policy runs depend on: the model's files, the tasks and the params."""
    keys = ("suite", "agent", "teacher", "student", "onpolicy")
    blob = {k: getattr(params, k).model_dump(mode="json") for k in keys}
    blob |= {"model": model_fingerprint(model_dir), "tasks": sorted(t.id for t in tasks)}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def run_onpolicy_rollouts(
    params: Params,
    model_dir: Path,
    tasks: list[Task],
    out_dir: Path,
    cache_dir: Path,
    label: str = "onpolicy",
) -> dict[str, Any]:
    """Roll the fine-tuned student in `model_dir` out on `tasks` (`onpolicy.rollouts` sampled
    runs each), then have the teacher label every state; resumes runs and labels on disk."""
    op = params.onpolicy
    reset_if_changed(out_dir, onpolicy_fingerprint(params, model_dir, tasks), label)
    trace, labels = out_dir / ONPOLICY_TRACE, out_dir / ONPOLICY_LABELS
    trace.touch()
    labels.touch()
    if op.rollouts and tasks:
        proto = params.agent.tool_protocol
        with model_endpoint(params, "sft", cache_dir, model_dir=model_dir) as endpoint:
            cfg = served_policy(params, "sft", op.temperature, cache_dir, model_dir, endpoint)
            cache_dir.mkdir(parents=True, exist_ok=True)
            student = make_policy(cfg, tasks, proto, name=label)
            specs = run_specs(tasks, label, op.rollouts, op.seed)
            batch = batch_size_for(cfg)
            record_runs(specs, student, params.agent, TraceWriter(trace), label, batch)
        labeller = make_policy(labeller_config(params), tasks, proto, name="teacher")
        label_student_states(labeller, trace, labels)
    steps = read_trace(trace).steps
    return {
        "tasks": len(tasks),
        "runs": len(read_trace(trace).results),
        "steps": len(steps),
        "parse_errors": sum(1 for s in steps if s.parse_error),
        "loop_flags": sum(len(s.loop_flags) for s in steps),
        "tool_errors": sum(1 for s in steps if s.tool_error),
        "labels": sum(1 for _ in labels.open(encoding="utf-8")),
    }


def main() -> None:
    with timed_stage("onpolicy", user_errors=(SandboxError,)):
        params = stage_params()
        tasks = train_tasks(params, paths.SPLIT_TASKS, paths.MUTANTS)
        summary = run_onpolicy_rollouts(
            params, paths.MODELS_SFT, tasks, paths.ONPOLICY, paths.CACHE_ONPOLICY
        )
        write_json(paths.METRICS / "onpolicy.json", summary)
        print(f"onpolicy: {summary['runs']} runs, {summary['labels']} states labelled")


if __name__ == "__main__":
    main()
