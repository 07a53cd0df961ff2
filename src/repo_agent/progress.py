"""Progress display for long work: one console (stderr) and one bar layout for every command."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def progress_bar() -> Progress:
    """A bar row per job: description, bar, done/total, elapsed and remaining time, and a free
    `info` field. On a console that is not a terminal (a log file) rich draws no live bar, only
    the final state, so logs get no flood of redraws."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
    )
