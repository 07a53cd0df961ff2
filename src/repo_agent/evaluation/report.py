"""The eval report: Markdown + HTML tables of each model's metrics with task-clustered bootstrap
intervals, deltas vs base, paired differences between models, breakdowns, failure reasons; plot
data for `dvc plots` and static PNGs for offline viewing."""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

import polars as pl

from repo_agent.evaluation.metrics import (
    HEADLINE,
    PAIRS,
    breakdown,
    failure_reasons,
    pair_name,
    runs_frame,
    steps_frame,
)
from repo_agent.traces import read_trace

TABLE_METRICS = (
    "runs",
    "parse_error_rate",
    "loops_per_run",
    "avg_steps",
    "write_file_rate",
    "success_rate",
    "tool_call_validity",
)


# --- table cells and tables, shared by this report and the README's results block ----------


def cell(v: float) -> str:
    """A number as a table cell: a float to 3 places, a count as it is.

    >>> cell(0.25), cell(12)
    ('0.250', '12')
    """
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def with_interval(block: dict[str, Any], key: str) -> str:
    """A metric cell: `0.250 [0.100, 0.400]` where the block has its interval, else the value.

    >>> with_interval({"success_rate": 0.25, "success_rate_ci_low": 0.1,
    ...                "success_rate_ci_high": 0.4}, "success_rate")
    '0.250 [0.100, 0.400]'
    """
    if f"{key}_ci_low" not in block:
        return cell(block[key])
    return f"{block[key]:.3f} [{block[f'{key}_ci_low']:.3f}, {block[f'{key}_ci_high']:.3f}]"


def paired_diff(block: dict[str, Any], key: str) -> tuple[float, float, float, bool]:
    """A paired block's difference b - a of metric `key`, its 95% interval, and whether the
    interval excludes 0.

    >>> paired_diff({"success_rate_diff": 0.2, "success_rate_diff_ci_low": 0.05,
    ...              "success_rate_diff_ci_high": 0.3}, "success_rate")
    (0.2, 0.05, 0.3, True)
    """
    diff, lo, hi = (block[f"{key}_diff{s}"] for s in ("", "_ci_low", "_ci_high"))
    return diff, lo, hi, lo > 0 or hi < 0


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table.

    >>> print(markdown_table(["model", "runs"], [["base", "3"]]))
    | model | runs |
    |---|---|
    | base | 3 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# --- the report ------------------------------------------------------------------------------


def design_line(runs: dict[str, pl.DataFrame]) -> str:
    """How many tasks each model ran and how many runs a task got (k = 0 greedy, then sampled).

    With 36 tasks and 3 runs of each for every model: "36 held-out tasks, 3 runs per task and
    model: k = 0 greedy, k = 1..2 sampled (seed eval.seed + k, the same for every model)."
    """
    shapes = {}
    for model, frame in runs.items():
        per_task = frame.group_by("task_id").len().get_column("len")
        shapes[model] = (frame.get_column("task_id").n_unique(), per_task.min(), per_task.max())
    if not shapes:
        return "No eval runs."
    if len(set(shapes.values())) > 1 or any(lo != hi for _, lo, hi in shapes.values()):
        parts = [
            f"{m} {t} tasks, {lo}" + (f"-{hi}" if hi != lo else "") + " runs per task"
            for m, (t, lo, hi) in shapes.items()
        ]
        return "Held-out tasks and runs differ by model: " + "; ".join(parts) + "."
    tasks, runs_per_task, _ = next(iter(shapes.values()))
    if runs_per_task == 1:
        return f"{tasks} held-out tasks, 1 run per task and model (k = 0, greedy)."
    sampled = "k = 1" if runs_per_task == 2 else f"k = 1..{runs_per_task - 1}"
    return (
        f"{tasks} held-out tasks, {runs_per_task} runs per task and model: k = 0 greedy, "
        f"{sampled} sampled (seed eval.seed + k, the same for every model)."
    )


def paired_section(metrics: dict[str, dict[str, Any]]) -> list[str]:
    """One table per model pair in `metrics`: b - a of each headline metric with its interval."""
    lines = [
        "## Paired differences",
        "",
        "b - a on the runs both models made (same task, same k, same seed); 95% intervals "
        "from a paired bootstrap that draws the tasks once per resample for both models.",
        "",
    ]
    for a, b in PAIRS:
        block = metrics.get(pair_name(a, b))
        if block is None:
            continue
        lines += [f"### {a} → {b}", ""]
        paired, runs_a, runs_b = block["runs"], metrics[a]["runs"], metrics[b]["runs"]
        note = f"{paired} paired runs on {block['tasks']} tasks."
        if paired < max(runs_a, runs_b):
            note += (
                f" Only runs present in both count: {runs_a - paired} of {a}'s {runs_a} runs "
                f"and {runs_b - paired} of {b}'s {runs_b} runs have no partner and are left out."
            )
        lines += [note, ""]
        rows = []
        for name in HEADLINE:
            diff, lo, hi, excludes = paired_diff(block, name)
            rows.append(
                [name, f"{diff:+.3f}", f"[{lo:+.3f}, {hi:+.3f}]", "yes" if excludes else "no"]
            )
        lines += [markdown_table(["metric", "difference", "95% CI", "CI excludes 0"], rows), ""]
    return lines


GRAMMAR_METRICS = (
    "parse_error_rate",
    "loops_per_run",
    "tool_call_validity",
    "write_file_rate",
    "success_rate",
)


def grammar_pairs(arms: list[str]) -> list[tuple[str, str]]:
    """(model, model+grammar) for each model evaluated both ways, in `arms` order."""
    return [(a, f"{a}+grammar") for a in arms if f"{a}+grammar" in arms]


def constrained_lines(metrics: dict[str, dict[str, Any]], arms: list[str]) -> list[str]:
    """Each model next to its `+grammar` arm: the headline metrics with intervals and the
    generation time per token, then the time without → with the grammar (empty where no
    model has a grammar arm)."""
    pairs = grammar_pairs(arms)
    if not pairs:
        return []
    rows = [
        [
            arm,
            *(with_interval(metrics[arm], k) for k in GRAMMAR_METRICS),
            f"{metrics[arm].get('decode_ms_per_token', 0.0):.3f}",
        ]
        for pair in pairs
        for arm in pair
    ]
    lines = [
        markdown_table(["arm", *GRAMMAR_METRICS, "ms/token"], rows),
        "",
        "Generation time per completion token (generate() or request time over completion "
        "tokens, prefill included), without → with the grammar, measured in the same run:",
        "",
    ]
    for free, constrained in pairs:
        a = metrics[free].get("decode_ms_per_token", 0.0)
        b = metrics[constrained].get("decode_ms_per_token", 0.0)
        ratio = f" (×{b / a:.2f})" if a > 0 else ""
        lines.append(f"- {free}: {a:.3f} ms → {b:.3f} ms{ratio}")
    return lines


def constrained_section(metrics: dict[str, dict[str, Any]], arms: list[str]) -> list[str]:
    """The report's "Fine-tuning vs constrained decoding" section (empty without grammar arms)."""
    lines = constrained_lines(metrics, arms)
    if not lines:
        return []
    return [
        "## Fine-tuning vs constrained decoding",
        "",
        "`<model>+grammar` decodes the same model under the protocol's JSON schema "
        "(`constrain: json_schema`), on the same tasks, runs and seeds. Its replies parse by "
        "construction unless the token budget cuts one (parse error `truncated`).",
        "",
        *lines,
        "",
    ]


def write_report(
    traces: dict[str, Path],
    metrics: dict[str, dict[str, Any]],
    reports: Path,
    plots: Path,
    bootstrap_samples: int = 1000,
    seed: int = 0,
) -> None:
    """Write eval.md, eval.html, eval_metrics.png to `reports` and eval_metrics.csv to `plots`.

    `metrics` is metrics/eval.json: a block per model in `traces` (with its intervals, as
    eval_metrics computes them with `bootstrap_samples` and `seed`) and the paired blocks."""
    reports.mkdir(parents=True, exist_ok=True)
    plots.mkdir(parents=True, exist_ok=True)
    data = {m: read_trace(p) for m, p in traces.items()}
    runs = {m: runs_frame([r.result for r in t.results]) for m, t in data.items()}
    models = [m for m in metrics if m in traces]
    blocks = {m: metrics[m] for m in models}
    base = metrics.get("base")

    sections: list[str] = ["# Evaluation on held-out tasks", "", design_line(runs), ""]
    header = ["model", *TABLE_METRICS]
    rows = [[m, *(with_interval(metrics[m], k) for k in TABLE_METRICS)] for m in models]
    sections += [
        "## Metrics",
        "",
        f"Mean [95% interval]: percentile bootstrap over tasks ({bootstrap_samples} resamples, "
        f"seed {seed}); a drawn task brings all its runs.",
        "",
        markdown_table(header, rows),
        "",
    ]
    if base is not None:
        drows = [
            [m, *(f"{metrics[m][k] - base[k]:+.3f}" for k in TABLE_METRICS[1:])]
            for m in models
            if m != "base"
        ]
        sections += [
            "## Change vs base",
            "",
            markdown_table(["model", *TABLE_METRICS[1:]], drows),
            "",
        ]
    sections += constrained_section(metrics, models)
    if any(pair_name(a, b) in metrics for a, b in PAIRS):
        sections += paired_section(metrics)
    for key in ("category", "difficulty"):
        brows = []
        for m in models:
            for group, vals in breakdown(runs[m], key).items():
                brows.append(
                    [
                        m,
                        group,
                        str(vals["runs"]),
                        cell(vals["success_rate"]),
                        cell(vals["write_file_rate"]),
                        cell(vals["parse_error_rate"]),
                    ]
                )
        sections += [
            f"## By {key}",
            "",
            markdown_table(["model", key, "runs", "success", "write_file", "parse_err"], brows),
            "",
        ]
    frows = [
        [m, reason, str(n)]
        for m in models
        for reason, n in failure_reasons(runs[m], steps_frame(data[m].steps))
    ]
    sections += [
        "## Top failure reasons",
        "",
        markdown_table(["model", "reason", "count"], frows),
        "",
    ]
    text = "\n".join(sections)
    (reports / "eval.md").write_text(text, encoding="utf-8")
    (reports / "eval.html").write_text(_html(text), encoding="utf-8")
    _write_plot_data(blocks, plots / "eval_metrics.csv")
    _plot_bars(blocks, reports / "eval_metrics.png")


def _html(markdown: str) -> str:
    """A self-contained HTML rendering of the Markdown headings, lines and tables (no network)."""
    out = [
        "<!doctype html><meta charset='utf-8'><title>repo-agent eval</title>",
        "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}</style>",
        "<img src='eval_metrics.png' alt='metrics by model'>",
    ]
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            head, *body = table
            out.append(
                "<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"
            )
            out.extend(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body
            )
            out.append("</table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|---"):
            continue
        if line.startswith("| "):
            table.append([c.strip() for c in line.strip("|").split("|")])
            continue
        flush()
        if line.startswith("### "):
            out.append(f"<h3>{html.escape(line[4:])}</h3>")
        elif line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    flush()
    return "\n".join(out) + "\n"


def _write_plot_data(metrics: dict[str, dict[str, Any]], path: Path) -> None:
    """One row per model, one column per metric (dvc.yaml declares a bar plot per metric)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["model", *TABLE_METRICS[1:]])
        for m, block in metrics.items():
            w.writerow([m, *(block[k] for k in TABLE_METRICS[1:])])


def _plot_bars(metrics: dict[str, dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [
        "parse_error_rate",
        "write_file_rate",
        "success_rate",
        "tool_call_validity",
        "loops_per_run",
    ]
    fig, axes = plt.subplots(1, len(keys), figsize=(3 * len(keys), 3))
    for ax, k in zip(axes, keys, strict=True):
        ax.bar(list(metrics), [metrics[m][k] for m in metrics], color="#4472c4")
        ax.set_title(k, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
