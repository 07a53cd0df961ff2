"""What the commands share: the console, suite options, loading tasks, errors and warnings."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from repo_agent.runtime.task import Task, TaskFileError
from repo_agent.runtime.workspace import WorkspaceError
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
    """The tasks of a suite, or exit 2 with one line saying why they cannot be loaded."""
    try:
        return load_suite(suite, path, test_cmd)
    except TaskFileError as exc:
        fail(exc)
    # What a loader lets through from copying or testing a hostile checkout: an unbalanced
    # quote in the test command, a named pipe, a tree too deep to walk.
    except RecursionError as exc:
        fail(exc, f"{suite} suite at {path}: the directory tree is too deep to copy: ")
    except (WorkspaceError, OSError, ValueError) as exc:
        fail(exc, f"{suite} suite at {path}: ")


def describe(exc: BaseException) -> str:
    """An exception as one line of text; `shutil.copytree`'s list of failures as its first.

    >>> describe(ValueError("No closing\\nquotation"))
    'No closing quotation'
    >>> describe(shutil.Error([("/r/p", "/tmp/x/p", "`/r/p` is a named pipe")]))
    '`/r/p` is a named pipe'
    """
    errors = exc.args[0] if isinstance(exc, shutil.Error) and exc.args else None
    if isinstance(errors, list) and errors and isinstance(errors[0], tuple):
        text = str(errors[0][-1]) + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def fail(
    exc: Exception | str, context: str = "", options: Mapping[str, str] | None = None
) -> NoReturn:
    """Print the one-line `error:` of a bad input or option (an exception or a message) and
    exit 2. A ValidationError of a params field names its option (`options` maps the field
    names whose option is not the field name with dashes)."""
    text = exc if isinstance(exc, str) else describe(exc)
    if isinstance(exc, ValidationError):  # an option out of its params field's range
        text = "; ".join(
            f"--{_option(e['loc'][-1], options or {})}: {e['msg']}" if e["loc"] else e["msg"]
            for e in exc.errors()
        )
    # soft_wrap: the line stays one line however narrow the terminal.
    console.print("[red]error:[/red]", escape(context + text), soft_wrap=True)
    raise typer.Exit(2) from (None if isinstance(exc, str) else exc)


def _option(field: object, options: Mapping[str, str]) -> str:
    return options.get(str(field), str(field).replace("_", "-"))


def warn(text: str) -> None:
    console.print("[yellow]warning:[/yellow]", escape(text), soft_wrap=True)
