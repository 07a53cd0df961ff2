"""What the commands share: the console, suite options, loading tasks, errors and warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from repo_agent.runtime.task import Task, TaskFileError
from repo_agent.suites.loader import load_suite

console = Console()

SuiteOpt = Annotated[
    str, typer.Option("--suite", help="builtin | quixbugs | mutants | renamed | repo")
]

PathOpt = Annotated[
    Path | None, typer.Option("--path", help="suite location (quixbugs, mutants, repo)")
]

TestCmdOpt = Annotated[
    str | None, typer.Option("--test-cmd", help="repo suite: the test command (default pytest)")
]


def load_tasks(suite: str, path: Path | None, test_cmd: str | None = None) -> list[Task]:
    """The tasks of a suite, or exit 2 with the task-file error."""
    try:
        return load_suite(suite, path, test_cmd)
    except TaskFileError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def fail(exc: Exception) -> NoReturn:
    """Print the one-line `error:` of a bad input or option and exit 2."""
    text = str(exc)
    if isinstance(exc, ValidationError):  # an option out of its params field's range
        opts = [(str(e["loc"][-1]).replace("_", "-"), e["msg"]) for e in exc.errors()]
        text = "; ".join(f"--{name}: {msg}" for name, msg in opts)
    console.print("[red]error:[/red]", escape(text))
    raise typer.Exit(2) from exc


def warn(text: str) -> None:
    console.print("[yellow]warning:[/yellow]", escape(text))
