"""`repo-agent profile`: list, show and apply the params profiles a 7B user starts from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from repo_agent.cli.common import console, fail
from repo_agent.pipeline.params import ParamsError
from repo_agent.pipeline.profiles import (
    apply_profile,
    load_profile,
    profile_names,
    profile_text,
    set_options,
)

profile_app = typer.Typer(no_args_is_help=True, help="Params profiles: list, show, apply.")

ParamsOpt = Annotated[Path, typer.Option("--params", help="the params file to change")]


@profile_app.command("list")
def profile_list() -> None:
    """The shipped profiles, with the first line of each."""
    for name in profile_names():
        first = profile_text(name).splitlines()[0].lstrip("# ")
        console.print(f"[bold]{name}[/bold]  {escape(first)}", soft_wrap=True)


@profile_app.command("show")
def profile_show(name: str) -> None:
    """The profile's YAML, then the same as `dvc exp run -S` options."""
    try:
        text, options = profile_text(name), set_options(load_profile(name))
    except ValueError as exc:
        fail(exc)
    console.print(escape(text.rstrip()), soft_wrap=True, highlight=False)
    console.print("\nas an experiment:\n", soft_wrap=True)
    console.print(
        escape("dvc exp run " + " \\\n    ".join(options)), soft_wrap=True, highlight=False
    )


@profile_app.command("apply")
def profile_apply(name: str, params: ParamsOpt = Path("params.yaml")) -> None:
    """Merge the profile into params.yaml (only if the result validates)."""
    try:
        apply_profile(name, params)
    except (ValueError, ParamsError) as exc:
        fail(exc)
    console.print(f"{params}: profile {name} applied; `dvc status` shows what will rerun")
