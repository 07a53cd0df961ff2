"""The `repo-agent` command line (thin: parse options, call the package, print)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from repo_agent.pipeline.runs import tracked
from repo_agent.policies.config import PolicyConfig, PolicyKind
from repo_agent.policies.factory import make_policy
from repo_agent.progress import progress_bar
from repo_agent.records import ResultLine, RunResult, StepRecord
from repo_agent.runtime.agent import run_episodes, run_specs
from repo_agent.runtime.config import AgentConfig, ToolProtocol
from repo_agent.runtime.task import Task, TaskFileError
from repo_agent.suites.loader import load_suite, select_tasks
from repo_agent.suites.validate import validate_tasks
from repo_agent.traces import TraceWriter

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
tasks_app = typer.Typer(no_args_is_help=True, help="List and validate task suites.")
app.add_typer(tasks_app, name="tasks")
console = Console()

SuiteOpt = Annotated[str, typer.Option("--suite", help="builtin | quixbugs | mutants | repo")]
PathOpt = Annotated[
    Path | None, typer.Option("--path", help="suite location (quixbugs, mutants, repo)")
]
TestCmdOpt = Annotated[
    str | None, typer.Option("--test-cmd", help="repo suite: the test command (default pytest)")
]


def _load(suite: str, path: Path | None, test_cmd: str | None = None) -> list[Task]:
    try:
        return load_suite(suite, path, test_cmd)
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
    test_cmd: TestCmdOpt = None,
) -> None:
    """Check every task: the buggy version fails its tests and the reference fix passes."""
    tasks = _load(suite, path, test_cmd)
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
    from repo_agent.suites.mutants import MutantError, generate_mutants, report_table

    try:
        report = generate_mutants(
            source,
            out,
            max_per_program,
            seed,
            timeout,
            test_cmd=test_cmd,
            workers=workers,
            force=force,
            progress=True,
        )
    except (MutantError, TaskFileError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(report_table(report))
    console.print(
        f"{report.kept} tasks from {len(report.programs)} programs in {report.duration_s:.1f}s; "
        f"load them with --suite mutants --path {out}"
    )


def summarize(results: list[RunResult], title: str) -> Table:
    """A table of runs with a totals row."""
    table = Table(title=title)
    for col in ("task", "run", "success", "steps", "parse err", "loops", "error"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.task_id,
            r.run_id.rsplit(":", 1)[-1],
            "yes" if r.success else "[red]no[/red]",
            str(r.steps),
            str(r.parse_errors),
            str(r.loop_detections),
            r.error or "",
        )
    if results:
        rate = sum(r.success for r in results) / len(results)
        table.add_section()
        table.add_row(
            "TOTAL",
            str(len(results)),
            f"{rate:.0%}",
            f"{statistics.mean(r.steps for r in results):.2f}",
            str(sum(r.parse_errors for r in results)),
            str(sum(r.loop_detections for r in results)),
            "",
        )
    return table


@app.command("run")
def run(
    suite: SuiteOpt = "builtin",
    path: PathOpt = None,
    test_cmd: TestCmdOpt = None,
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
    base_url: Annotated[
        str | None, typer.Option(help="API endpoint (openai: OpenAI-compatible server)")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="API requests in flight")] = 4,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="bypass the response cache")] = False,
) -> None:
    """Run a policy on tasks and print a summary table."""
    if suite == "repo" and not task:
        all_tasks = True  # the repo suite is one task
    if bool(task) == all_tasks:
        console.print("[red]error:[/red] give --task ID (repeatable) or --all")
        raise typer.Exit(2)
    tasks = _load(suite, path, test_cmd)
    try:
        chosen = select_tasks(tasks, None if all_tasks else task)
        no_fix = [t.id for t in chosen if not t.fix]
        if policy == "oracle" and no_fix:
            raise ValueError(
                f"the oracle teacher needs a reference fix and {', '.join(no_fix)} has none "
                "(the repo suite never has one); use an API policy, e.g. --policy openai"
            )
        config = AgentConfig(
            tool_protocol=tool_protocol, test_policy=test_policy, max_steps=max_steps
        )
        pol_config = PolicyConfig(
            kind=policy,
            model=model,
            explore=explore,
            base_url=base_url,
            concurrency=concurrency,
            cache=not no_cache,
        )
        pol = make_policy(pol_config, tasks, tool_protocol)
    except (TaskFileError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    writer = None
    if out is not None:
        writer = TraceWriter(out.with_suffix(".traces.jsonl"), results_path=out)
    specs = [
        spec
        for spec in run_specs(chosen, policy, rollouts, seed, role="run")
        if writer is None or spec.run_id not in writer.done
    ]

    def record(steps: list[StepRecord], line: ResultLine) -> None:
        if writer is not None:
            writer.write_run(steps, line)

    with progress_bar() as bar:
        counter, on_done = tracked(bar, "runs", len(specs), record)
        run_episodes(specs, pol, config, on_done, batch_size=max(8, concurrency))
    results = [line.result for line in counter.lines]
    console.print(summarize(results, f"{policy} on {suite}"))
    if out is not None:
        console.print(f"results: {out}  traces: {out.with_suffix('.traces.jsonl')}")


@app.command("view")
def view(
    traces: Annotated[list[Path], typer.Argument(help="trace files (X.traces.jsonl)")],
    out: Annotated[Path, typer.Option("--out", help="directory for the static site")],
) -> None:
    """Write a static HTML site of the runs in trace files: open OUT/index.html."""
    from repo_agent.evaluation.viewer import build_site
    from repo_agent.traces import TraceFormatError

    missing = [str(p) for p in traces if not p.is_file()]
    if missing:
        console.print(f"[red]error:[/red] no such trace file: {', '.join(missing)}")
        raise typer.Exit(2)
    try:
        index, runs = build_site(traces, out)
    except TraceFormatError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"{runs} runs: open {index} in a browser")


@app.command("estimate")
def estimate(
    sft: Annotated[Path, typer.Option(help="SFT rows (JSONL)", exists=True, dir_okay=False)],
    pairs: Annotated[
        Path, typer.Option(help="preference rows (JSONL)", exists=True, dir_okay=False)
    ],
    price_per_mtok: Annotated[
        float | None, typer.Option(help="USD per 1M training tokens (see the provider's pricing)")
    ] = None,
    dpo_price_per_mtok: Annotated[
        float | None, typer.Option(help="DPO price if it differs from --price-per-mtok")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="SFT epochs")] = 3,
    dpo_epochs: Annotated[int, typer.Option(min=1, help="DPO epochs")] = 1,
) -> None:
    """Tokens in the SFT and preference files and the estimated cost of the jobs (≈4 chars per
    token), before anything is uploaded."""
    from repo_agent.training.estimate import estimate_jobs

    try:
        jobs = estimate_jobs(sft, pairs, epochs, dpo_epochs, price_per_mtok, dpo_price_per_mtok)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    table = Table(title="fine-tuning estimate (≈4 characters per token)")
    for col in ("job", "rows", "tokens/epoch", "epochs", "training tokens", "USD/1M", "cost USD"):
        table.add_column(col)
    for j in jobs:
        price = "-" if j.price_per_mtok is None else f"{j.price_per_mtok:g}"
        cost = "-" if j.cost_usd is None else f"{j.cost_usd:.2f}"
        table.add_row(
            j.job,
            str(j.rows),
            str(j.tokens_per_epoch),
            str(j.epochs),
            str(j.training_tokens),
            price,
            cost,
        )
    console.print(table)
    if all(j.cost_usd is not None for j in jobs):
        console.print(f"estimated total: ${sum(j.cost_usd or 0 for j in jobs):.2f}")
    else:
        console.print("give --price-per-mtok (from the provider's pricing page) for a cost")


if __name__ == "__main__":
    app()
