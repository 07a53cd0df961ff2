"""`repo-agent run` and `repo-agent view`: run a policy on tasks, look at the traces."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer
from pydantic import ValidationError
from rich.table import Table

from repo_agent.cli.common import PathOpt, SuiteOpt, TestCmdOpt, console, fail, load_tasks
from repo_agent.cli.options import Options, config_options
from repo_agent.cli.outputs import RunSettings, check_out, check_settings, open_writer
from repo_agent.evaluation.metrics import model_metrics
from repo_agent.inputs import file_kind
from repo_agent.pipeline.runs import record_runs
from repo_agent.policies.config import POLICY_CLASSES, PolicyConfig, parse_policy
from repo_agent.policies.factory import batch_size_for, make_policy
from repo_agent.records import RunResult
from repo_agent.runtime.config import AgentConfig, Sandbox, ToolProtocol
from repo_agent.runtime.episode import run_specs
from repo_agent.runtime.sandbox import TRUSTED_POLICIES, SandboxChoice, choose_sandbox
from repo_agent.runtime.task import DEFAULT_TEST_CMD, TaskFileError
from repo_agent.suites.loader import select_tasks
from repo_agent.traces import (
    OutputLockedError,
    TraceFormatError,
    output_lock,
    traces_beside,
)


def run_label(policy: str, model: str) -> str:
    """The policy part of a run id: the model, if any, %-escaped so that it holds no `:` and
    two models never share a label.

    >>> run_label("oracle", "")
    'oracle'
    >>> run_label("openai", "ft:gpt-4.1-mini:org:x")
    'openai@ft%3Agpt-4.1-mini%3Aorg%3Ax'
    >>> run_label("hf", "Qwen/Qwen2.5-0.5B-Instruct")
    'hf@Qwen/Qwen2.5-0.5B-Instruct'
    """
    return f"{policy}@{quote(model, safe='/')}" if model else policy


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


OUT_HELP = (
    "results JSONL; traces (X.traces.jsonl), settings (X.settings.json) and a lock go beside "
    "it. A rerun resumes: finished runs are kept, and the settings must match"
)
FORCE_HELP = (
    "start over on an --out made with other settings: its results, traces and settings are "
    "renamed X.old.jsonl, X.old.traces.jsonl, X.old.settings.json (replacing those of an "
    "earlier --force), never mixed or deleted"
)


def sandbox_caption(choice: SandboxChoice | None) -> str:
    """The summary's line on test isolation.

    >>> sandbox_caption(None)
    'no test runs (test_policy: never)'
    >>> sandbox_caption(SandboxChoice("/usr/bin/bwrap", "test runs sandboxed (bubblewrap)"))
    'test runs sandboxed (bubblewrap)'
    """
    return "no test runs (test_policy: never)" if choice is None else choice.note


POLICY_OPTIONS = Options(
    tuple(POLICY_CLASSES.values()),
    build=parse_policy,
    names={"kind": "policy", "timeout_s": "timeout"},
    panel="Policy (params: teacher / student)",
)


@config_options(pol_config=POLICY_OPTIONS)
def run(
    pol_config: PolicyConfig,
    suite: SuiteOpt = "builtin",
    path: PathOpt = None,
    test_cmd: TestCmdOpt = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="task id (repeatable)")] = None,
    all_tasks: Annotated[bool, typer.Option("--all", help="every task of the suite")] = False,
    tool_protocol: Annotated[ToolProtocol, typer.Option(help="json | native")] = "json",
    test_policy: Annotated[str, typer.Option(help="never | on_final | after_write")] = "on_final",
    sandbox: Annotated[Sandbox, typer.Option(help="test runs: auto | bwrap | none")] = "auto",
    rollouts: Annotated[int, typer.Option(min=1, help="runs per task")] = 1,
    max_steps: Annotated[int, typer.Option(min=1)] = 12,
    seed: Annotated[int, typer.Option()] = 0,
    out: Annotated[Path | None, typer.Option(help=OUT_HELP)] = None,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
) -> None:
    """Run a policy on tasks and print a summary table."""
    if suite == "repo" and not task:
        all_tasks = True  # the repo suite is one task
    if bool(task) == all_tasks:
        fail("give --task ID (repeatable) or --all")
    try:
        config = AgentConfig(
            tool_protocol=tool_protocol,
            test_policy=test_policy,
            max_steps=max_steps,
            sandbox=sandbox,
        )
    except ValidationError as exc:
        fail(exc)
    policy, model = pol_config.kind, getattr(pol_config, "model", "")
    settings = RunSettings(
        suite=suite,
        path=str(path.expanduser().resolve()) if path is not None else None,
        test_cmd=(test_cmd or DEFAULT_TEST_CMD) if suite == "repo" else test_cmd,
        policy=policy,
        model=model,
        base_url=getattr(pol_config, "base_url", None),
        tool_protocol=tool_protocol,
        test_policy=test_policy,
        max_steps=max_steps,
        explore=getattr(pol_config, "explore", 0.0),
        seed=seed,
        sandbox=sandbox,
        constrain=getattr(pol_config, "constrain", "none"),
    )
    files = check_out(out) if out is not None else None
    with ExitStack() as held:
        if files is not None:
            # Held from the settings check to the last run, so a second writer never gets in.
            try:
                held.enter_context(output_lock(files.results))
            except (OutputLockedError, OSError) as exc:
                fail(exc)
            check_settings(files, settings, force)
        tasks = load_tasks(suite, path, test_cmd)
        try:
            chosen = select_tasks(tasks, task)
            no_fix = [t.id for t in chosen if not t.fix]
            if policy == "oracle" and no_fix:
                raise ValueError(
                    f"the oracle teacher needs a reference fix and {', '.join(no_fix)} has none "
                    "(the repo suite never has one); use an API policy, e.g. --policy openai"
                )
            # Before the policy exists: an untrusted one without a sandbox never sends a request.
            sandbox_choice = (
                choose_sandbox(config.sandbox, policy in TRUSTED_POLICIES, f"--policy {policy}")
                if config.test_policy != "never"
                else None
            )
            pol = make_policy(pol_config, tasks, tool_protocol)
        except (TaskFileError, ValueError) as exc:
            fail(exc)
        writer = open_writer(files, settings, force) if files is not None else None
        label = run_label(policy, model)
        specs = run_specs(chosen, label, rollouts, seed, role="run")
        lines = record_runs(specs, pol, config, writer, "runs", max(8, batch_size_for(pol_config)))
    table = summarize([line.result for line in lines], f"{label} on {suite}")
    table.caption = sandbox_caption(sandbox_choice)
    console.print(table)
    if files is not None:
        console.print(f"results: {files.results}  traces: {files.traces}")


def trace_files(paths: list[Path]) -> list[Path]:
    """The trace files to show: a results file (`run --out X.jsonl`) stands for the traces
    beside it (X.traces.jsonl); exits 2 naming the file to give when those are missing."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        fail(f"no such trace file: {', '.join(missing)}")
    out = []
    for p in paths:
        if file_kind(p) == "results":
            beside = traces_beside(p)
            if not beside.is_file():
                fail(
                    f"{p} is a results file; the steps of its runs are in {beside}, which "
                    "is missing: pass the X.traces.jsonl that `repo-agent run --out X.jsonl` wrote"
                )
            p = beside
        out.append(p)
    return out


def view(
    traces: Annotated[
        list[Path], typer.Argument(help="trace files (X.traces.jsonl) or results files (X.jsonl)")
    ],
    out: Annotated[Path, typer.Option("--out", help="directory for the static site")],
) -> None:
    """Write a static HTML site of the runs in trace files: open OUT/index.html. A results
    file written by `run --out X.jsonl` is read through its traces, X.traces.jsonl."""
    from repo_agent.evaluation.viewer import build_site

    paths = trace_files(traces)
    try:
        index, runs = build_site(paths, out)
    except (TraceFormatError, OSError) as exc:
        fail(exc)
    console.print(f"{runs} runs: open {index} in a browser")
