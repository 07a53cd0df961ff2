"""Step `rollout`: the teacher acts on the suite (every step and run result recorded); the
embedded student is built from the suite's text the first time."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from repo_agent.evaluation.metrics import model_metrics
from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.params import Params
from repo_agent.pipeline.paths import TEACHER_POLICY_FILE
from repo_agent.pipeline.runs import record_runs, reset_if_changed
from repo_agent.pipeline.served import labeller_config
from repo_agent.policies.factory import batch_size_for, make_policy
from repo_agent.progress import console
from repo_agent.records import ResultLine, Usage
from repo_agent.runtime.episode import run_specs
from repo_agent.runtime.protocol import system_prompt
from repo_agent.runtime.sandbox import TRUSTED_POLICIES, SandboxError, choose_sandbox
from repo_agent.runtime.task import Task
from repo_agent.suites.loader import configured_tasks
from repo_agent.traces import TraceWriter, read_trace
from repo_agent.training.student import BUILTIN_TINY, build_student, corpus_from_traces


def ensure_student(params: Params, tasks: list[Task], teacher_trace: Path, base_dir: Path) -> None:
    """Build the embedded student into base_dir (once) when `student.model` is builtin-tiny."""
    if params.student.model != BUILTIN_TINY or (base_dir / "config.json").is_file():
        return
    texts = [system_prompt("json")] + [t.spec.goal for t in tasks]
    texts += [p.read_text(encoding="utf-8") for t in tasks for p in t.files.values()]
    texts += [c for t in tasks for c in (t.fix or {}).values()]
    texts += list(corpus_from_traces([teacher_trace]))
    console.print(f"building the embedded student in {base_dir}")
    build_student(texts, params.student.build, base_dir)


def pipeline_policies(params: Params) -> dict[str, str]:
    """Every policy kind the pipeline's agent runs will use, by the role that uses it: the
    teacher (rollout, labels, eval@teacher), the student (on-policy rollouts, the base / sft /
    dpo eval arms) and a remote fine-tune's provider (its sft / dpo arms)."""
    kinds = {"teacher": params.teacher.kind}
    models = {*params.eval.models, *params.eval.grammar}
    if params.onpolicy.rollouts or models & {"base", "sft", "dpo"}:
        kinds["student"] = params.student.kind
    if params.finetune.backend != "local" and (params.onpolicy.rollouts or models & {"sft", "dpo"}):
        kinds["fine-tuned student"] = params.finetune.backend
    return kinds


def check_sandbox(params: Params) -> str:
    """Before any work: every policy the pipeline will run may run its tests (SandboxError
    names the first that may not). Returns the line that says where test runs go."""
    if params.agent.test_policy == "never":
        return "no test runs (agent.test_policy: never)"
    # One sandbox setting for all of them: each is checked, and they share one note.
    sandbox = params.agent.sandbox
    for role, kind in pipeline_policies(params).items():
        choice = choose_sandbox(sandbox, kind in TRUSTED_POLICIES, f"the {role} ({kind})")
    return choice.note


def _summary(lines: list[ResultLine]) -> dict[str, Any]:
    block = model_metrics([line.result for line in lines], [])
    usage = sum((line.usage for line in lines), Usage())
    keys = ("runs", "success_rate", "parse_errors", "loop_detections", "avg_steps")
    return {k: block[k] for k in keys} | {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost_usd": round(usage.cost_usd, 6),
    }


def rollout_fingerprint(params: Params) -> str:
    """What the traces depend on; DVC keeps them between runs (persist) so a killed rollout
    resumes, and this decides whether what is on disk still belongs to these params."""
    keys = ("suite", "agent", "teacher", "student", "rollout")
    blob = json.dumps({k: getattr(params, k).model_dump(mode="json") for k in keys}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def reset_if_params_changed(params: Params, rollout_dir: Path, base_dir: Path) -> None:
    """Start over (traces and the built student) unless the traces on disk match the params."""
    reset_if_changed(rollout_dir, rollout_fingerprint(params), "rollout", also=(base_dir,))


def run_rollout(
    params: Params, rollout_dir: Path, base_dir: Path, mutants_dir: Path
) -> dict[str, Any]:
    """The teacher's runs on the suite, then the embedded student (built once, if embedded)."""
    reset_if_params_changed(params, rollout_dir, base_dir)
    tasks = configured_tasks(params.suite, mutants_dir)
    r = params.rollout
    teacher_trace = rollout_dir / "teacher.jsonl"
    teacher = make_policy(params.teacher, tasks, params.agent.tool_protocol, name="teacher")
    specs = run_specs(tasks, "teacher", r.teacher_rollouts, r.seed)
    writer = TraceWriter(teacher_trace)
    record_runs(
        specs, teacher, params.agent, writer, "teacher rollouts", batch_size_for(params.teacher)
    )
    ensure_student(params, tasks, teacher_trace, base_dir)
    base_dir.mkdir(parents=True, exist_ok=True)
    return {"tasks": len(tasks), "teacher": _summary(read_trace(teacher_trace).results)}


def write_teacher_policy(params: Params, out_dir: Path) -> None:
    """The teacher as eval@teacher serves it (no detours), as a file the eval stage depends on."""
    policy = labeller_config(params)
    write_json(out_dir / TEACHER_POLICY_FILE, policy.model_dump(mode="json", exclude={"cache_dir"}))


def main() -> None:
    with timed_stage("rollout", user_errors=(SandboxError,)):
        params = stage_params()
        # The first stage checks every policy of the pipeline: a refusal now, not hours in.
        print(f"rollout: {check_sandbox(params)}", file=sys.stderr, flush=True)
        for cfg in (params.teacher, params.student):
            cfg.cache_dir = str(paths.CACHE_ROLLOUT)
        for d in (paths.CACHE_ROLLOUT, paths.MUTANTS, paths.RENAMED):
            d.mkdir(parents=True, exist_ok=True)
        summary = run_rollout(params, paths.ROLLOUT, paths.MODELS_BASE, paths.MUTANTS)
        write_teacher_policy(params, paths.MODELS_TEACHER)
        write_json(paths.METRICS / "rollout.json", summary)


if __name__ == "__main__":
    main()
