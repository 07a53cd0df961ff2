"""The eval report: Markdown + HTML tables with deltas vs base, bootstrap CIs, breakdowns,
failure reasons; plot data for `dvc plots` and static PNGs for offline viewing."""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

from repo_agent.evaluation.metrics import (
    RUN_RATES,
    bootstrap_ci,
    breakdown,
    failure_reasons,
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


def _fmt(v: float) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def write_report(
    traces: dict[str, Path],
    metrics: dict[str, dict[str, float]],
    reports: Path,
    plots: Path,
    bootstrap_samples: int = 1000,
    seed: int = 0,
) -> None:
    """Write eval.md, eval.html, eval_metrics.png to `reports` and eval_metrics.csv to `plots`."""
    reports.mkdir(parents=True, exist_ok=True)
    plots.mkdir(parents=True, exist_ok=True)
    data = {m: read_trace(p) for m, p in traces.items()}
    runs = {m: runs_frame([r.result for r in t.results]) for m, t in data.items()}
    models = list(metrics)
    base = metrics.get("base")

    sections: list[str] = ["# Evaluation on held-out tasks", ""]
    header = ["model", *TABLE_METRICS]
    rows = [[m, *(_fmt(metrics[m][k]) for k in TABLE_METRICS)] for m in models]
    sections += ["## Metrics", "", markdown_table(header, rows), ""]
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
    ci_rows = []
    for m in models:
        cells = [m]
        for expr in RUN_RATES.values():
            lo, hi = bootstrap_ci(runs[m], expr, bootstrap_samples, seed)
            cells.append(f"[{lo:.2f}, {hi:.2f}]")
        ci_rows.append(cells)
    sections += [
        f"## Bootstrap 95% intervals ({bootstrap_samples} resamples of runs)",
        "",
        markdown_table(["model", *RUN_RATES], ci_rows),
        "",
    ]
    for key in ("category", "difficulty"):
        brows = []
        for m in models:
            for group, vals in breakdown(runs[m], key).items():
                brows.append(
                    [
                        m,
                        group,
                        str(vals["runs"]),
                        _fmt(vals["success_rate"]),
                        _fmt(vals["write_file_rate"]),
                        _fmt(vals["parse_error_rate"]),
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
    _write_plot_data(metrics, plots / "eval_metrics.csv")
    _plot_bars(metrics, reports / "eval_metrics.png")


def _html(markdown: str) -> str:
    """A self-contained HTML rendering of the Markdown tables (no network needed)."""
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
        if line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
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
