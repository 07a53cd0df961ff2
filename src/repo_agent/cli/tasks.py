"""`repo-agent tasks`: list, validate and generate task suites."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from repo_agent.cli.common import PathOpt, SuiteOpt, TestCmdOpt, console, load_tasks
from repo_agent.progress import progress_bar
from repo_agent.runtime.task import TaskFileError
from repo_agent.suites.mutant_sources import MutantError, load_sources
from repo_agent.suites.mutants import GenerationReport, ProgramReport, generate_mutants
from repo_agent.suites.validate import validate_tasks

tasks_app = typer.Typer(no_args_is_help=True, help="List and validate task suites.")


@tasks_app.command("list")
def tasks_list(suite: SuiteOpt = "builtin", path: PathOpt = None) -> None:
    """Print the tasks of a suite."""
    tasks = load_tasks(suite, path)
    table = Table(title=f"{suite}: {len(tasks)} tasks")
    for col in ("id", "difficulty", "category", "expected_files"):
        table.add_column(col)
    for t in tasks:
        table.add_row(t.id, t.spec.difficulty, t.spec.category, ", ".join(t.spec.expected_files))
    console.print(table)


@tasks_app.command("validate")
def tasks_validate(
    suite: SuiteOpt = "builtin",
    path: PathOpt = None,
    workers: Annotated[int, typer.Option(help="parallel test processes")] = 2,
    test_cmd: TestCmdOpt = None,
) -> None:
    """Check every task: the buggy version fails its tests and the reference fix passes."""
    tasks = load_tasks(suite, path, test_cmd)
    with progress_bar() as bar:
        job = bar.add_task("validating", total=len(tasks), info="")
        results = validate_tasks(
            tasks, workers, on_done=lambda v: bar.update(job, advance=1, info=v.task_id)
        )
    table = Table(title=f"{suite}: task validation")
    for col in ("task", "buggy fails", "fix passes", "seconds", "problem"):
        table.add_column(col)
    for v in results:
        fix = "-" if v.fix_passes is None else ("yes" if v.fix_passes else "[red]no[/red]")
        table.add_row(
            v.task_id,
            "yes" if v.buggy_fails else "[red]no[/red]",
            fix,
            f"{v.duration_s:.1f}",
            v.problem or "",
        )
    console.print(table)
    bad = [v for v in results if not v.ok]
    console.print(f"{len(results) - len(bad)}/{len(results)} tasks valid")
    if bad:
        raise typer.Exit(1)


@tasks_app.command("generate")
def tasks_generate(
    source: Annotated[
        Path, typer.Option("--from", help="task tree (e.g. the builtin suite), QuixBugs or a repo")
    ],
    out: Annotated[Path, typer.Option("--out", help="directory for the generated tasks")],
    max_per_program: Annotated[int, typer.Option("--max", min=1, help="mutants per program")] = 3,
    seed: Annotated[int, typer.Option()] = 0,
    test_cmd: TestCmdOpt = None,
    timeout: Annotated[float, typer.Option(help="seconds before a mutant counts as hung")] = 10.0,
    workers: Annotated[int, typer.Option(min=1, help="parallel test processes")] = 2,
    force: Annotated[bool, typer.Option(help="replace mutant tasks already in --out")] = False,
) -> None:
    """Make bug-fix tasks by mutating correct code; keep mutants its tests catch."""
    try:
        programs = load_sources(source, test_cmd)
        with progress_bar() as bar:
            job = bar.add_task("mutants", total=len(programs), info="")
            kept: dict[str, int] = {}

            def on_progress(r: ProgramReport, done: bool) -> None:
                kept[r.program] = len(r.kept)
                info = f"{sum(kept.values())} kept · {r.program}"
                bar.update(job, advance=1 if done else 0, info=info)

            report = generate_mutants(
                programs,
                out,
                max_per_program,
                seed,
                timeout,
                workers=workers,
                force=force,
                on_progress=on_progress,
            )
    except (MutantError, TaskFileError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(_mutants_table(report))
    console.print(
        f"{report.kept} tasks from {len(report.programs)} programs in {report.duration_s:.1f}s; "
        f"load them with --suite mutants --path {out}"
    )


def _mutants_table(report: GenerationReport) -> Table:
    """Per program: candidates, tries, kept and rejection reasons, with a totals row."""
    table = Table(title=f"mutants in {report.out_dir} (seed {report.seed})")
    for col in ("program", "candidates", "tried", "kept", "survived", "timeout", "dup", "s"):
        table.add_column(col, justify="left" if col == "program" else "right")
    for p in report.programs:
        table.add_row(
            p.program + (f" [dim]({p.note})[/dim]" if p.note else ""), str(p.candidates),
            str(p.tried), str(len(p.kept)), str(p.rejected["survived"]),
            str(p.rejected["timeout"]), str(p.rejected["duplicate"]), f"{p.duration_s:.1f}",
        )  # fmt: skip
    table.add_section()
    n = len(report.programs)
    table.add_row(
        f"TOTAL ({n} programs)", str(sum(p.candidates for p in report.programs)),
        str(sum(p.tried for p in report.programs)), str(report.kept),
        str(sum(p.rejected["survived"] for p in report.programs)),
        str(sum(p.rejected["timeout"] for p in report.programs)),
        str(sum(p.rejected["duplicate"] for p in report.programs)), f"{report.duration_s:.1f}",
    )  # fmt: skip
    return table
