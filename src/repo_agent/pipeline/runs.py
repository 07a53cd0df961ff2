"""Recording agent runs with a live progress row: what `repo-agent run`, the rollout stage and
the eval stage share. Runs already in the trace file are skipped, so a rerun resumes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from rich.progress import Progress

from repo_agent.evaluation.metrics import run_totals
from repo_agent.progress import console, progress_bar
from repo_agent.records import ResultLine, StepRecord, TeacherLabel, Usage
from repo_agent.runtime.agent import run_episodes, sandbox_for
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.runtime.policy import Policy, PolicyRequest
from repo_agent.traces import TraceWriter, read_trace


class RunCounter:
    """Live totals over finished runs, rendered as one status line."""

    def __init__(self) -> None:
        self.lines: list[ResultLine] = []
        self.usage = Usage()

    def add(self, line: ResultLine) -> None:
        self.lines.append(line)
        self.usage = self.usage + line.usage

    def info(self) -> str:
        t = run_totals([line.result for line in self.lines])
        tokens = self.usage.prompt_tokens + self.usage.completion_tokens
        return (
            f"success {t['successes']}/{t['runs']}  parse errors {t['parse_errors']}  "
            f"loops {t['loop_detections']}  tokens {tokens}  ${self.usage.cost_usd:.4f}"
        )


OnDone = Callable[[list[StepRecord], ResultLine], None]


def tracked(bar: Progress, description: str, total: int, sink: OnDone) -> tuple[RunCounter, OnDone]:
    """A bar row plus an on_done callback that records a run, then advances the bar."""
    counter = RunCounter()
    job = bar.add_task(description, total=total, info="")

    def on_done(steps: list[StepRecord], line: ResultLine) -> None:
        sink(steps, line)
        counter.add(line)
        bar.update(job, advance=1, info=counter.info())

    return counter, on_done


def record_runs(
    specs: list[RunSpec],
    policy: Policy,
    agent: AgentConfig,
    writer: TraceWriter | None,
    label: str,
    batch_size: int,
) -> list[ResultLine]:
    """Run the specs not yet in the writer's file (all of them without a writer), each finished
    run appended at once; returns the result lines of the runs made now. Says first whether
    test runs are sandboxed (SandboxError for an untrusted policy that would run unsandboxed)."""
    todo = [s for s in specs if writer is None or s.run_id not in writer.done]
    choice = sandbox_for(policy, agent)
    if choice is not None and todo:
        console.print(f"{label}: {choice.note}")
    if len(todo) < len(specs):
        console.print(f"{label}: resuming, {len(specs) - len(todo)} of {len(specs)} runs on disk")

    def sink(steps: list[StepRecord], line: ResultLine) -> None:
        if writer is not None:
            writer.write_run(steps, line)

    with progress_bar() as bar:
        counter, on_done = tracked(bar, label, len(todo), sink)
        run_episodes(todo, policy, agent, on_done, batch_size=batch_size)
    return counter.lines


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


def reset_if_changed(
    run_dir: Path, fingerprint: str, label: str, also: tuple[Path, ...] = ()
) -> None:
    """Keep `run_dir` (for resuming) only if it was made for `fingerprint`; otherwise empty it
    (and the `also` dirs) and stamp it. DVC keeps such dirs between runs (persist)."""
    stamp = run_dir / "fingerprint.txt"
    if stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return
    if stamp.is_file() or any(run_dir.glob("*.jsonl")):
        console.print(f"{label}: inputs changed since the runs on disk were made; starting over")
    for d in (run_dir, *also):
        shutil.rmtree(d, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n")
