"""The `repo-agent` command line (thin: parse options, call the package, print)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from repo_agent.agent import AgentConfig, RunSpec, run_episodes
from repo_agent.policies.factory import PolicyConfig, PolicyKind, make_policy
from repo_agent.protocol import ToolProtocol
from repo_agent.records import ResultLine, RunResult, StepRecord
from repo_agent.suites import Task, TaskFileError, load_suite, select_tasks
from repo_agent.traces import TraceWriter
from repo_agent.validate import validate_tasks

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
tasks_app = typer.Typer(no_args_is_help=True, help="List and validate task suites.")
app.add_typer(tasks_app, name="tasks")
console = Console()

SuiteOpt = Annotated[str, typer.Option("--suite", help="builtin | quixbugs | mutants")]
PathOpt = Annotated[Path | None, typer.Option("--path", help="suite location (quixbugs, mutants)")]


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
    )


def _load(suite: str, path: Path | None) -> list[Task]:
    try:
        return load_suite(suite, path)
    except TaskFileError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


@tasks_app.command("list")
def tasks_list(suite: SuiteOpt = "builtin", path: PathOpt = None) -> None:
    """Print the tasks of a suite."""
    tasks = _load(suite, path)
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
) -> None:
    """Check every task: the buggy version fails its tests and the reference fix passes."""
    tasks = _load(suite, path)
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
            v.task_id, "yes" if v.buggy_fails else "[red]no[/red]", fix,
            f"{v.duration_s:.1f}", v.problem or "",
        )
    console.print(table)
    bad = [v for v in results if not v.ok]
    console.print(f"{len(results) - len(bad)}/{len(results)} tasks valid")
    if bad:
        raise typer.Exit(1)


def summarize(results: list[RunResult], title: str) -> Table:
    """A table of runs with a totals row."""
    table = Table(title=title)
    for col in ("task", "run", "success", "steps", "parse err", "loops", "error"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.task_id, r.run_id.rsplit(":", 1)[-1], "yes" if r.success else "[red]no[/red]",
            str(r.steps), str(r.parse_errors), str(r.loop_detections), r.error or "",
        )
    if results:
        rate = sum(r.success for r in results) / len(results)
        table.add_section()
        table.add_row(
            "TOTAL", str(len(results)), f"{rate:.0%}",
            f"{statistics.mean(r.steps for r in results):.2f}",
            str(sum(r.parse_errors for r in results)),
            str(sum(r.loop_detections for r in results)), "",
        )
    return table


@app.command("run")
def run(
    suite: SuiteOpt = "builtin",
    path: PathOpt = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="task id (repeatable)")] = None,
    all_tasks: Annotated[bool, typer.Option("--all", help="every task of the suite")] = False,
    policy: Annotated[PolicyKind, typer.Option(help="who acts")] = "oracle",
    model: Annotated[str, typer.Option(help="model path or name (hf, openai, together)")] = "",
    tool_protocol: Annotated[ToolProtocol, typer.Option(help="json | native")] = "json",
    test_policy: Annotated[str, typer.Option(help="never | on_final | after_write")] = "on_final",
    rollouts: Annotated[int, typer.Option(min=1, help="runs per task")] = 1,
    max_steps: Annotated[int, typer.Option(min=1)] = 12,
    explore: Annotated[float, typer.Option(help="oracle detour probability")] = 0.0,
    seed: Annotated[int, typer.Option()] = 0,
    out: Annotated[Path | None, typer.Option(help="results JSONL; traces go beside it")] = None,
) -> None:
    """Run a policy on tasks and print a summary table."""
    if bool(task) == all_tasks:
        console.print("[red]error:[/red] give --task ID (repeatable) or --all")
        raise typer.Exit(2)
    tasks = _load(suite, path)
    try:
        chosen = select_tasks(tasks, None if all_tasks else task)
        config = AgentConfig(
            tool_protocol=tool_protocol, test_policy=test_policy, max_steps=max_steps
        )
        pol = make_policy(PolicyConfig(kind=policy, model=model, explore=explore), tasks,
                          tool_protocol)
    except (TaskFileError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    writer = None
    if out is not None:
        writer = TraceWriter(out.with_suffix(".traces.jsonl"), results_path=out)
    specs = [
        RunSpec(t, f"{t.id}:{policy}:{k}", seed=seed + k, role="run")
        for t in chosen
        for k in range(rollouts)
        if writer is None or f"{t.id}:{policy}:{k}" not in writer.done
    ]
    results: list[RunResult] = []
    with progress_bar() as bar:
        job = bar.add_task("runs", total=len(specs), info="")

        def done(steps: list[StepRecord], line: ResultLine) -> None:
            results.append(line.result)
            if writer is not None:
                writer.write_run(steps, line)
            ok = sum(r.success for r in results)
            bar.update(job, advance=1, info=f"success {ok}/{len(results)}")

        run_episodes(specs, pol, config, done)
    console.print(summarize(results, f"{policy} on {suite}"))
    if out is not None:
        console.print(f"results: {out}  traces: {out.with_suffix('.traces.jsonl')}")


if __name__ == "__main__":
    app()
