"""`repo-agent run` and `repo-agent view`: run a policy on tasks, look at the traces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from repo_agent.cli.common import PathOpt, SuiteOpt, TestCmdOpt, console, load_tasks
from repo_agent.evaluation.metrics import model_metrics
from repo_agent.pipeline.runs import record_runs
from repo_agent.policies.config import PolicyConfig, PolicyKind
from repo_agent.policies.factory import make_policy
from repo_agent.records import RunResult
from repo_agent.runtime.agent import run_specs
from repo_agent.runtime.config import AgentConfig, ToolProtocol
from repo_agent.runtime.task import TaskFileError
from repo_agent.suites.loader import select_tasks
from repo_agent.traces import TraceFormatError, TraceWriter


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
        m = model_metrics(results, [])
        table.add_section()
        table.add_row(
            "TOTAL",
            str(m["runs"]),
            f"{m['success_rate']:.0%}",
            f"{m['avg_steps']:.2f}",
            str(m["parse_errors"]),
            str(m["loop_detections"]),
            "",
        )
    return table


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
    tasks = load_tasks(suite, path, test_cmd)
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
    specs = run_specs(chosen, policy, rollouts, seed, role="run")
    lines = record_runs(specs, pol, config, writer, "runs", max(8, concurrency))
    results = [line.result for line in lines]
    console.print(summarize(results, f"{policy} on {suite}"))
    if out is not None:
        console.print(f"results: {out}  traces: {out.with_suffix('.traces.jsonl')}")


def view(
    traces: Annotated[list[Path], typer.Argument(help="trace files (X.traces.jsonl)")],
    out: Annotated[Path, typer.Option("--out", help="directory for the static site")],
) -> None:
    """Write a static HTML site of the runs in trace files: open OUT/index.html."""
    from repo_agent.evaluation.viewer import build_site

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
