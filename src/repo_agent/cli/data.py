"""The data steps on files you name (`extract`, `pair`, `split`): the same functions the
stages of those names call, their options the fields of the params sections they read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from repo_agent.cli.common import console, fail, warn
from repo_agent.cli.options import Options, config_options
from repo_agent.data.config import ExtractParams, PairParams, RubricParams, SplitParams
from repo_agent.runtime.config import SMALL_READ_CHARS, AgentConfig, ToolProtocol
from repo_agent.traces import TraceFormatError

TracesArg = Annotated[
    list[Path],
    typer.Argument(
        help="trace files (`run --out X.jsonl` writes X.traces.jsonl)", show_default=False
    ),
]

PAIR_PANEL, RUBRIC_PANEL = "Corruptions (params: pair)", "Rubric (params: rubric)"


@config_options(config=Options((ExtractParams,), exclude=frozenset({"source"})))
def extract(
    traces: TracesArg,
    out: Annotated[Path, typer.Option("--out", help="SFT rows with provenance (JSONL)")],
    config: ExtractParams,
    tool_protocol: Annotated[
        ToolProtocol,
        typer.Option(help="json | native: the protocol of the traces (native rows carry tools)"),
    ] = "json",
) -> None:
    """Trace files to SFT rows: each clean step (it parsed, no loop, no tool error) becomes one
    chat row ending in its action, as the extract stage writes them."""
    from repo_agent.pipeline.extract import extract_files

    try:
        counts = extract_files(traces, out, config, tool_protocol)
    except (TraceFormatError, ValueError) as exc:
        fail(exc)
    console.print(f"{counts['rows']} SFT rows from {counts['steps']} steps: {out}", markup=False)
    console.print(
        f"dropped: {counts['invalid']} invalid (parse error, loop or tool error), "
        f"{counts['failed_run']} of failed runs, {counts['too_long']} too long, "
        f"{counts['duplicate']} duplicates"
    )
    if not counts["rows"]:
        why = "every step was dropped" if counts["steps"] else "the traces hold no finished run"
        warn(f"no SFT rows in {out}: {why}")


@config_options(
    config=Options(
        (PairParams,),
        exclude=frozenset({"use_student"}),
        names={"corruptions": "corruption"},
        panel=PAIR_PANEL,
    ),
    rubric=Options((RubricParams,), panel=RUBRIC_PANEL),
)
def pair(
    traces: TracesArg,
    out: Annotated[Path, typer.Option("--out", help="preference pairs with provenance (JSONL)")],
    config: PairParams,
    rubric: RubricParams,
    tool_protocol: Annotated[
        ToolProtocol, typer.Option(help="json | native: the protocol of the traces")
    ] = "json",
    small_read_chars: Annotated[
        int, typer.Option(min=1, help="a re-read below this many chars is a loop")
    ] = SMALL_READ_CHARS,
) -> None:
    """Trace files to DPO preference pairs: the teacher's action against a corruption of it,
    kept when the rubric margin is at least --min-margin, as the pair stage writes them. The
    options are the fields of the `pair` and `rubric` params sections (see data/config.py)."""
    from repo_agent.pipeline.pair import pair_files

    agent = AgentConfig(tool_protocol=tool_protocol, small_read_chars=small_read_chars)
    try:
        metrics = pair_files(traces, out, rubric, config, agent)
    except (TraceFormatError, ValueError) as exc:
        fail(exc)
    console.print(
        f"{metrics['pairs']} pairs kept of {metrics['candidates']} candidates "
        f"({metrics['dropped_low_margin']} below --min-margin {rubric.min_margin:g}): {out}",
        markup=False,
    )
    table = Table(title="pairs kept")
    for col in ("by", "name", "pairs"):
        table.add_column(col)
    for by in ("source", "reason"):
        for name, n in metrics[f"by_{by}"].items():
            table.add_row(by, name, str(n))
        table.add_section()
    if metrics["pairs"]:
        console.print(table)
        m = metrics["margin"]
        console.print(f"margin: mean {m['mean']:g}, min {m['min']:g}, max {m['max']:g}")
    else:
        why = "no candidate reached --min-margin" if metrics["candidates"] else "no candidates"
        warn(f"no pairs in {out}: {why}")


@config_options(config=Options((SplitParams,)))
def split(
    sft: Annotated[Path, typer.Option("--sft", help="SFT rows with provenance (extract's)")],
    pairs: Annotated[
        Path, typer.Option("--pairs", help="preference pairs with provenance (pair's output)")
    ],
    out: Annotated[Path, typer.Option("--out", help="directory for train/, heldout/, tasks.json")],
    config: SplitParams,
) -> None:
    """SFT rows and pairs to train and held-out files of bare rows, ready for fine-tuning, split
    by task (tasks made from one program stay together), as the split stage writes them."""
    from repo_agent.data.split import LeakError
    from repo_agent.pipeline.split import split_files

    try:
        tasks = split_files(sft, pairs, out, config)
    except (LeakError, ValueError) as exc:
        fail(exc)
    console.print(f"{len(tasks['train'])} train tasks, {len(tasks['heldout'])} held-out tasks")
    total = {"sft": 0, "pairs": 0}
    for part in ("train", "heldout"):
        written = []
        for name in total:
            path = out / part / f"{name}.jsonl"
            n = sum(1 for line in path.open(encoding="utf-8") if line.strip())
            total[name] += n
            written.append(f"{path} ({n} rows)")
        console.print(f"{part}: {', '.join(written)}", markup=False)
    console.print(f"task ids: {out / 'tasks.json'}", markup=False)
    for name, given in (("sft", sft), ("pairs", pairs)):
        if not total[name]:
            warn(f"{given} holds no rows: the {name} files are empty")
