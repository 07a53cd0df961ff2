"""The data steps on files you name (`sft-extract`, `pairs`, `split`): the same functions
the extract, pair and split stages call."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.table import Table

from repo_agent.cli.common import console, fail, warn
from repo_agent.data.config import (
    CorruptionName,
    ExtractParams,
    PairParams,
    RubricParams,
    SplitParams,
)
from repo_agent.runtime.config import SMALL_READ_CHARS, AgentConfig, ToolProtocol
from repo_agent.traces import TraceFormatError

# Option defaults come from the params sections the stages read.
_EXTRACT, _RUBRIC, _PAIR, _SPLIT = ExtractParams(), RubricParams(), PairParams(), SplitParams()

TracesArg = Annotated[
    list[Path],
    typer.Argument(
        help="trace files (`run --out X.jsonl` writes X.traces.jsonl)", show_default=False
    ),
]

PAIR_PANEL, RUBRIC_PANEL = "Corruptions (params: pair)", "Rubric (params: rubric)"


# typer takes no list of Literal values; an enum of the same names gives --corruption choices.
Corruption = StrEnum("Corruption", [(name, name) for name in get_args(CorruptionName)])


def _rubric_opt(field: str, text: str | None = None, minimum: float = 0) -> Any:
    """An option for a RubricParams field, its help the field's description."""
    text = text or RubricParams.model_fields[field].description
    return typer.Option(min=minimum, help=text, rich_help_panel=RUBRIC_PANEL)


def sft_extract(
    traces: TracesArg,
    out: Annotated[Path, typer.Option("--out", help="SFT rows with provenance (JSONL)")],
    require_success: Annotated[
        bool, typer.Option("--require-success", help="only steps of runs whose tests passed")
    ] = _EXTRACT.require_success,
    dedupe: Annotated[
        bool, typer.Option("--dedupe/--no-dedupe", help="drop repeated (state, action) rows")
    ] = _EXTRACT.dedupe,
    max_chars: Annotated[
        int, typer.Option(min=200, help="drop rows longer than this (chars)")
    ] = _EXTRACT.max_chars,
    tool_protocol: Annotated[
        ToolProtocol,
        typer.Option(help="json | native: the protocol of the traces (native rows carry tools)"),
    ] = "json",
) -> None:
    """Trace files to SFT rows: each clean step (it parsed, no loop, no tool error) becomes one
    chat row ending in its action, as the extract stage writes them."""
    from repo_agent.pipeline.extract import extract_files

    config = ExtractParams(require_success=require_success, dedupe=dedupe, max_chars=max_chars)
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


def make_pairs(
    traces: TracesArg,
    out: Annotated[Path, typer.Option("--out", help="preference pairs with provenance (JSONL)")],
    student: Annotated[
        list[Path] | None,
        typer.Option(
            "--student",
            help="student trace files (repeatable): their actions against the teacher's labels",
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            help="the teacher's labels of the student's states (labels.jsonl, as the rollout "
            "stage writes it)",
        ),
    ] = None,
    tool_protocol: Annotated[
        ToolProtocol, typer.Option(help="json | native: the protocol of the traces")
    ] = "json",
    small_read_chars: Annotated[
        int, typer.Option(min=1, help="a re-read below this many chars is a loop")
    ] = SMALL_READ_CHARS,
    corruption: Annotated[
        list[Corruption] | None,
        typer.Option(
            "--corruption",
            help="corruption of the teacher's action to draw from (repeatable; default: all)",
            rich_help_panel=PAIR_PANEL,
        ),
    ] = None,
    corruptions_per_step: Annotated[
        int,
        typer.Option(
            min=0,
            help="corrupted actions per kept teacher step",
            rich_help_panel=PAIR_PANEL,
        ),
    ] = _PAIR.corruptions_per_step,
    seed: Annotated[
        int, typer.Option(min=0, help="seed of the corruptions", rich_help_panel=PAIR_PANEL)
    ] = _PAIR.seed,
    invalid_penalty: Annotated[float, _rubric_opt("invalid_penalty")] = _RUBRIC.invalid_penalty,
    loop_penalty: Annotated[float, _rubric_opt("loop_penalty")] = _RUBRIC.loop_penalty,
    premature_final_penalty: Annotated[
        float, _rubric_opt("premature_final_penalty", "final before anything was written")
    ] = _RUBRIC.premature_final_penalty,
    blind_write_penalty: Annotated[
        float, _rubric_opt("blind_write_penalty")
    ] = _RUBRIC.blind_write_penalty,
    read_after_grep_reward: Annotated[
        float, _rubric_opt("read_after_grep_reward")
    ] = _RUBRIC.read_after_grep_reward,
    localised_write_reward: Annotated[
        float, _rubric_opt("localised_write_reward")
    ] = _RUBRIC.localised_write_reward,
    min_context_chars: Annotated[
        int, _rubric_opt("min_context_chars", minimum=1)
    ] = _RUBRIC.min_context_chars,
    min_margin: Annotated[float, _rubric_opt("min_margin")] = _RUBRIC.min_margin,
) -> None:
    """Trace files to DPO preference pairs: the teacher's action against a corruption of it
    (and, with --student and --labels, the teacher's label against the student's action),
    kept when the rubric margin is at least --min-margin, as the pair stage writes them. The
    rubric options are the fields of the `rubric` params section (see data/config.py)."""
    from repo_agent.pipeline.pair import pair_files

    rubric = RubricParams(
        invalid_penalty=invalid_penalty,
        loop_penalty=loop_penalty,
        premature_final_penalty=premature_final_penalty,
        blind_write_penalty=blind_write_penalty,
        read_after_grep_reward=read_after_grep_reward,
        localised_write_reward=localised_write_reward,
        min_context_chars=min_context_chars,
        min_margin=min_margin,
    )
    names = list(dict.fromkeys(c.value for c in corruption)) if corruption else _PAIR.corruptions
    config = PairParams(corruptions=names, corruptions_per_step=corruptions_per_step, seed=seed)
    agent = AgentConfig(tool_protocol=tool_protocol, small_read_chars=small_read_chars)
    if labels is not None and not student:
        warn("--labels without --student: the labels name student states, so they go unused")
    if student and labels is None:
        warn("--student without --labels: a student action is paired with the teacher's label")
    try:
        metrics = pair_files(traces, out, rubric, config, agent, student=student, labels=labels)
    except (TraceFormatError, ValueError) as exc:
        fail(exc)
    console.print(
        f"{metrics['pairs']} pairs kept of {metrics['candidates']} candidates "
        f"({metrics['dropped_low_margin']} below --min-margin {min_margin:g}): {out}",
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


def split_data(
    sft: Annotated[Path, typer.Option("--sft", help="SFT rows with provenance (sft-extract's)")],
    pairs: Annotated[
        Path, typer.Option("--pairs", help="preference pairs with provenance (pairs' output)")
    ],
    out: Annotated[Path, typer.Option("--out", help="directory for train/, heldout/, tasks.json")],
    heldout_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of task groups held out (0 < f < 1)")
    ] = _SPLIT.heldout_fraction,
    seed: Annotated[int, typer.Option(min=0, help="seed of the split")] = _SPLIT.seed,
) -> None:
    """SFT rows and pairs to train and held-out files of bare rows, ready for fine-tuning, split
    by task (tasks made from one program stay together), as the split stage writes them."""
    from repo_agent.data.split import LeakError
    from repo_agent.pipeline.split import split_files

    try:
        config = SplitParams(heldout_fraction=heldout_fraction, seed=seed)
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
