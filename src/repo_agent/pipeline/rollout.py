"""The rollout step: teacher and student act on the suite; the teacher labels student states."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from repo_agent.evaluation.metrics import model_metrics
from repo_agent.files import write_json
from repo_agent.pipeline.params import Params
from repo_agent.pipeline.paths import TEACHER_POLICY_FILE
from repo_agent.pipeline.runs import label_student_states, record_runs, reset_if_changed
from repo_agent.policies.config import replace_policy
from repo_agent.policies.factory import batch_size_for, make_policy
from repo_agent.progress import console
from repo_agent.records import ResultLine, Usage
from repo_agent.runtime.agent import run_specs
from repo_agent.runtime.protocol import system_prompt
from repo_agent.runtime.sandbox import TRUSTED_POLICIES, choose_sandbox
from repo_agent.runtime.task import Task
from repo_agent.suites.loader import configured_tasks
from repo_agent.traces import TraceWriter, read_trace
from repo_agent.training.student import (
    BUILTIN_TINY,
    build_student,
    corpus_from_traces,
    student_model_path,
)


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
    teacher (rollout, labels, eval@teacher), the student (student and on-policy rollouts, the
    base / sft / dpo eval arms) and a remote fine-tune's provider (its sft / dpo arms)."""
    kinds = {"teacher": params.teacher.kind}
    models = {*params.eval.models, *params.eval.grammar}
    if (
        params.rollout.student_rollouts
        or params.onpolicy.rollouts
        or models & {"base", "sft", "dpo"}
    ):
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


def reset_if_params_changed(params: Params, traces_dir: Path, base_dir: Path) -> None:
    """Start over (traces and the built student) unless the traces on disk match the params."""
    reset_if_changed(traces_dir, rollout_fingerprint(params), "rollout", also=(base_dir,))


def run_rollout(
    params: Params, traces_dir: Path, base_dir: Path, mutants_dir: Path
) -> dict[str, Any]:
    """Teacher rollouts, the student (built if embedded), student rollouts, teacher labels."""
    reset_if_params_changed(params, traces_dir, base_dir)
    tasks = configured_tasks(params.suite, mutants_dir)
    r = params.rollout
    proto = params.agent.tool_protocol
    teacher_trace = traces_dir / "teacher.jsonl"
    teacher = make_policy(params.teacher, tasks, proto, name="teacher")
    specs = run_specs(tasks, "teacher", r.teacher_rollouts, r.seed)
    writer = TraceWriter(teacher_trace)
    record_runs(
        specs, teacher, params.agent, writer, "teacher rollouts", batch_size_for(params.teacher)
    )

    student_trace = traces_dir / "student.jsonl"
    labels_path = traces_dir / "labels.jsonl"
    if r.student_rollouts:
        ensure_student(params, tasks, teacher_trace, base_dir)
        scfg = replace_policy(
            params.student, model=student_model_path(params.student.model, base_dir)
        )
        student = make_policy(scfg, tasks, proto, name="student")
        specs = run_specs(tasks, "student", r.student_rollouts, r.seed)
        writer = TraceWriter(student_trace)
        batch = batch_size_for(params.student)
        record_runs(specs, student, params.agent, writer, "student rollouts", batch)
        if r.label_student_states:
            labeller_cfg = params.teacher.model_copy(update={"explore": 0.0})
            labeller = make_policy(labeller_cfg, tasks, proto, name="teacher")
            label_student_states(labeller, student_trace, labels_path)
    else:
        ensure_student(params, tasks, teacher_trace, base_dir)
    student_trace.touch()
    labels_path.touch()
    base_dir.mkdir(parents=True, exist_ok=True)
    teacher_lines = read_trace(teacher_trace).results
    student_lines = read_trace(student_trace).results
    return {
        "tasks": len(tasks),
        "teacher": _summary(teacher_lines),
        "student": _summary(student_lines),
        "labels": sum(1 for _ in labels_path.open(encoding="utf-8")),
    }


def write_teacher_policy(params: Params, out_dir: Path) -> None:
    """The teacher as eval@teacher serves it (no detours), as a file the eval stage depends on."""
    policy = params.teacher.model_copy(update={"explore": 0.0})
    write_json(out_dir / TEACHER_POLICY_FILE, policy.model_dump(mode="json", exclude={"cache_dir"}))
