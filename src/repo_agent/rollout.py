"""The rollout stage: teacher and student act on the suite; the teacher labels student states."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from repo_agent.agent import RunSpec, run_episodes, run_specs
from repo_agent.pairs import TeacherLabel
from repo_agent.params import Params, SuiteParams
from repo_agent.policies.base import Policy, PolicyRequest
from repo_agent.policies.factory import PolicyConfig, make_policy
from repo_agent.progress import console, progress_bar, tracked
from repo_agent.records import ResultLine, Usage
from repo_agent.suites import Task, load_suite, select_tasks
from repo_agent.traces import TraceWriter, read_trace

BUILTIN_TINY = "builtin-tiny"


def pipeline_tasks(suite: SuiteParams, mutants_dir: Path) -> list[Task]:
    """The tasks the pipeline uses, from one or several suites, sorted by id."""
    tasks: list[Task] = []
    for name in suite.names:
        if name == "mutants":
            from repo_agent.mutants import ensure_mutant_suite

            path = Path(suite.mutants_path) if suite.mutants_path else mutants_dir
            tasks += ensure_mutant_suite(path, suite.mutants_per_program, suite.mutants_seed)
        elif name == "quixbugs":
            tasks += load_suite(
                "quixbugs", Path(suite.quixbugs_path) if suite.quixbugs_path else None
            )
        else:
            tasks += load_suite(name)
    tasks = sorted(tasks, key=lambda t: t.id)
    tasks = select_tasks(tasks, suite.tasks or None)
    return tasks[: suite.max_tasks] if suite.max_tasks else tasks


def batch_size_for(config: PolicyConfig) -> int:
    if config.kind == "hf":
        return config.batch_size
    if config.kind in {"openai", "together"}:
        return max(1, getattr(config, "concurrency", 4))
    return 8


def record_runs(
    specs: list[RunSpec],
    policy: Policy,
    params: Params,
    writer: TraceWriter,
    label: str,
    batch_size: int,
) -> list[ResultLine]:
    """Run the specs not yet in the writer's file, with a progress bar; return new results."""
    todo = [s for s in specs if s.run_id not in writer.done]
    if len(todo) < len(specs):
        console.print(f"{label}: resuming, {len(specs) - len(todo)} of {len(specs)} runs on disk")
    with progress_bar() as bar:
        counter, on_done = tracked(bar, label, len(todo), writer.write_run)
        run_episodes(todo, policy, params.agent, on_done, batch_size=batch_size)
    return counter.lines


def student_model_path(params: Params, base_dir: Path) -> str:
    return str(base_dir) if params.student.model == BUILTIN_TINY else params.student.model


def ensure_student(params: Params, tasks: list[Task], teacher_trace: Path, base_dir: Path) -> None:
    """Build the embedded student into base_dir (once) when `student.model` is builtin-tiny."""
    if params.student.model != BUILTIN_TINY or (base_dir / "config.json").is_file():
        return
    from repo_agent.protocol import system_prompt
    from repo_agent.student import build_student, corpus_from_traces

    texts = [system_prompt("json")] + [t.spec.goal for t in tasks]
    texts += [p.read_text(encoding="utf-8") for t in tasks for p in t.files.values()]
    texts += [c for t in tasks for c in (t.fix or {}).values()]
    texts += list(corpus_from_traces([teacher_trace]))
    console.print(f"building the embedded student in {base_dir}")
    build_student(texts, params.student.build, base_dir)


def label_student_states(
    teacher: Policy, student_trace: Path, labels_path: Path, batch: int = 16
) -> int:
    """Write the teacher's next action for every student step not yet labelled."""
    done: set[tuple[str, int]] = set()
    if labels_path.exists():
        for line in labels_path.read_text(encoding="utf-8").splitlines():
            try:
                lb = TeacherLabel.model_validate_json(line)
            except ValueError:
                continue  # a line cut short by an interruption
            done.add((lb.run_id, lb.step))
    steps = [s for s in read_trace(student_trace).steps if (s.run_id, s.step) not in done]
    with progress_bar() as bar, labels_path.open("a", encoding="utf-8") as fh:
        job = bar.add_task("labelling student states", total=len(steps), info="")
        for i in range(0, len(steps), batch):
            chunk = steps[i : i + batch]
            reqs = [
                PolicyRequest(task_id=s.task_id, run_id=s.run_id, step=s.step, messages=s.messages)
                for s in chunk
            ]
            for s, comp in zip(chunk, teacher.complete(reqs), strict=True):
                if comp.error is None:
                    lb = TeacherLabel(run_id=s.run_id, step=s.step, output=comp.message)
                    fh.write(lb.model_dump_json(exclude_none=True) + "\n")
            fh.flush()
            bar.update(job, advance=len(chunk))
    return len(steps)


def _summary(lines: list[ResultLine]) -> dict[str, Any]:
    rs = [line.result for line in lines]
    n = max(1, len(rs))
    usage = sum((line.usage for line in lines), Usage())
    return {
        "runs": len(rs),
        "success_rate": round(sum(r.success for r in rs) / n, 4),
        "parse_errors": sum(r.parse_errors for r in rs),
        "loop_detections": sum(r.loop_detections for r in rs),
        "avg_steps": round(sum(r.steps for r in rs) / n, 4),
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
    stamp = traces_dir / "fingerprint.txt"
    fingerprint = rollout_fingerprint(params)
    if stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return
    if stamp.is_file() or any(traces_dir.glob("*.jsonl")):
        console.print("rollout: params changed since the traces on disk were made; starting over")
    shutil.rmtree(traces_dir, ignore_errors=True)
    shutil.rmtree(base_dir, ignore_errors=True)
    traces_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n")


def run_rollout(
    params: Params, traces_dir: Path, base_dir: Path, mutants_dir: Path
) -> dict[str, Any]:
    """Teacher rollouts, the student (built if embedded), student rollouts, teacher labels."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    reset_if_params_changed(params, traces_dir, base_dir)
    tasks = pipeline_tasks(params.suite, mutants_dir)
    r = params.rollout
    proto = params.agent.tool_protocol
    teacher_trace = traces_dir / "teacher.jsonl"
    teacher = make_policy(params.teacher, tasks, proto, name="teacher")
    specs = run_specs(tasks, "teacher", r.teacher_rollouts, r.seed)
    record_runs(
        specs,
        teacher,
        params,
        TraceWriter(teacher_trace),
        "teacher rollouts",
        batch_size_for(params.teacher),
    )

    student_trace = traces_dir / "student.jsonl"
    labels_path = traces_dir / "labels.jsonl"
    if r.student_rollouts:
        ensure_student(params, tasks, teacher_trace, base_dir)
        scfg = params.student.model_copy(update={"model": student_model_path(params, base_dir)})
        student = make_policy(
            PolicyConfig(**scfg.model_dump(exclude={"build"})), tasks, proto, name="student"
        )
        specs = run_specs(tasks, "student", r.student_rollouts, r.seed)
        record_runs(
            specs,
            student,
            params,
            TraceWriter(student_trace),
            "student rollouts",
            batch_size_for(params.student),
        )
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
