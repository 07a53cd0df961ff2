"""Recording agent runs with a live progress row: what `repo-agent run`, the rollout stage and
the eval stage share. Runs already in the trace file are skipped, so a rerun resumes."""

from __future__ import annotations

from collections.abc import Callable

from rich.progress import Progress

from repo_agent.evaluation.metrics import run_totals
from repo_agent.progress import console, progress_bar
from repo_agent.records import ResultLine, StepRecord, Usage
from repo_agent.runtime.agent import RunSpec, run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.policy import Policy
from repo_agent.traces import TraceWriter


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
    run appended at once; returns the result lines of the runs made now."""
    todo = [s for s in specs if writer is None or s.run_id not in writer.done]
    if len(todo) < len(specs):
        console.print(f"{label}: resuming, {len(specs) - len(todo)} of {len(specs)} runs on disk")

    def sink(steps: list[StepRecord], line: ResultLine) -> None:
        if writer is not None:
            writer.write_run(steps, line)

    with progress_bar() as bar:
        counter, on_done = tracked(bar, label, len(todo), sink)
        run_episodes(todo, policy, agent, on_done, batch_size=batch_size)
    return counter.lines
