"""Progress display for long work: runs done, parse errors, loops, tokens, cost."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from repo_agent.records import ResultLine, StepRecord, Usage

console = Console(stderr=True)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
    )


class RunCounter:
    """Live totals over finished runs, rendered as one status line."""

    def __init__(self) -> None:
        self.lines: list[ResultLine] = []
        self.usage = Usage()

    def add(self, line: ResultLine) -> None:
        self.lines.append(line)
        self.usage = self.usage + line.usage

    def info(self) -> str:
        rs = [line.result for line in self.lines]
        tokens = self.usage.prompt_tokens + self.usage.completion_tokens
        return (
            f"success {sum(r.success for r in rs)}/{len(rs)}  "
            f"parse errors {sum(r.parse_errors for r in rs)}  "
            f"loops {sum(r.loop_detections for r in rs)}  tokens {tokens}  "
            f"${self.usage.cost_usd:.4f}"
        )


def tracked(
    bar: Progress,
    description: str,
    total: int,
    sink: Callable[[list[StepRecord], ResultLine], None],
) -> tuple[RunCounter, Callable[[list[StepRecord], ResultLine], None]]:
    """A bar row plus an on_done callback that records a run, then advances the bar."""
    counter = RunCounter()
    job = bar.add_task(description, total=total, info="")

    def on_done(steps: list[StepRecord], line: ResultLine) -> None:
        sink(steps, line)
        counter.add(line)
        bar.update(job, advance=1, info=counter.info())

    return counter, on_done
