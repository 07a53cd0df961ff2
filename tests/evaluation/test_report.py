"""The eval report, written from small trace files: Markdown, self-contained HTML, plot data."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from repo_agent.evaluation.metrics import HEADLINE, eval_metrics, runs_frame
from repo_agent.evaluation.report import TABLE_METRICS, design_line, markdown_table, write_report
from repo_agent.records import Message, ResultLine, RunResult, StepRecord, TaskMetadata
from repo_agent.traces import TraceWriter, read_trace

BOOTSTRAP = {"bootstrap_samples": 100, "seed": 3}
INTERVAL = re.compile(r"(\S+) \[(\S+), (\S+)\]")


def run_records(
    model: str,
    task_id: str,
    k: int,
    success: bool,
    category: str,
    difficulty: str,
    parse_errors: int = 0,
    error: str | None = None,
    wrote: bool = True,
) -> tuple[list[StepRecord], ResultLine]:
    run_id = f"{task_id}:{model}:{k}"
    steps = [
        StepRecord(
            task_id=task_id,
            run_id=run_id,
            policy=model,
            step=i,
            messages=[Message(role="user", content="Task: fix it")],
            raw_output=Message(role="assistant", content="{" if i < parse_errors else "{}"),
            parse_error="invalid_json" if i < parse_errors else None,
        )
        for i in range(3)
    ]
    tools = {"list_files": 1, "write_file": 1} if wrote else {"list_files": 1}
    result = RunResult(
        task_id=task_id,
        run_id=run_id,
        success=success,
        steps=3,
        tool_calls=sum(tools.values()),
        files_touched=["f.py"] if wrote else [],
        error=error,
        duration_s=0.5,
        final_summary=None,
        test_output=None,
        metadata=TaskMetadata(difficulty=difficulty, category=category, expected_files=["f.py"]),
        reflection_count=0,
        loop_detections=0,
        parse_errors=parse_errors,
        test_runs=1,
        tool_breakdown=tools,
    )
    return steps, ResultLine(policy=model, role=model, result=result)


RUNS = {
    "base": [
        ("t_sort", 0, False, "sorting", "easy", 2, "3 consecutive parse errors (last: x)", False),
        ("t_sort", 1, False, "sorting", "easy", 1, None, False),
        ("t_math", 0, False, "math", "hard", 0, None, True),
        ("t_math", 1, True, "math", "hard", 0, None, True),
    ],
    "sft": [
        ("t_sort", 0, True, "sorting", "easy", 0, None, True),
        ("t_sort", 1, False, "sorting", "easy", 0, "policy error: <boom> & more", True),
        ("t_math", 0, True, "math", "hard", 0, None, True),
        ("t_math", 1, True, "math", "hard", 0, None, True),
    ],
    # sft under the grammar: no parse errors, the same successes.
    "sft+grammar": [
        ("t_sort", 0, True, "sorting", "easy", 0, None, True),
        ("t_sort", 1, False, "sorting", "easy", 0, None, True),
        ("t_math", 0, True, "math", "hard", 0, None, True),
        ("t_math", 1, True, "math", "hard", 0, None, True),
    ],
    # t_math k = 1 is missing: it pairs with neither base nor sft.
    "dpo": [
        ("t_sort", 0, True, "sorting", "easy", 0, None, True),
        ("t_sort", 1, False, "sorting", "easy", 1, None, True),
        ("t_math", 0, True, "math", "hard", 0, None, True),
    ],
}


@dataclass
class Written:
    reports: Path
    plots: Path
    metrics: dict[str, dict[str, float]]


def write_traces(root: Path, models: list[str]) -> dict[str, Path]:
    paths = {}
    for model in models:
        path = root / "traces" / f"{model}.jsonl"
        writer = TraceWriter(path)
        for spec in RUNS[model]:
            writer.write_run(*run_records(model, *spec))
        paths[model] = path
    return paths


def metrics_of(traces: dict[str, Path]) -> dict[str, dict[str, float]]:
    """metrics/eval.json as the report step computes it (less usage)."""
    data = {m: read_trace(p) for m, p in traces.items()}
    return eval_metrics(data, BOOTSTRAP["bootstrap_samples"], BOOTSTRAP["seed"])


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    root = tmp_path_factory.mktemp("report")
    traces = write_traces(root, ["base", "sft", "dpo"])
    metrics = metrics_of(traces)
    write_report(traces, metrics, root / "reports", root / "plots", **BOOTSTRAP)
    return Written(root / "reports", root / "plots", metrics)


def md(w: Written) -> str:
    return (w.reports / "eval.md").read_text(encoding="utf-8")


def section(text: str, title: str) -> str:
    """The lines of one `## title` section."""
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def table_rows(text: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| ")
    ]


def test_metrics_are_what_the_traces_hold(written: Written) -> None:
    assert written.metrics["base"]["success_rate"] == 0.25
    assert written.metrics["sft"]["success_rate"] == 0.75
    assert written.metrics["base"]["parse_error_rate"] == 0.25  # 3 of 12 steps


def test_markdown_has_the_metrics_table_with_intervals(written: Written) -> None:
    text = section(md(written), "Metrics")
    assert "over tasks (100 resamples, seed 3)" in text
    rows = table_rows(text)
    assert rows[0] == ["model", *TABLE_METRICS]
    by_model = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert list(by_model) == ["base", "sft", "dpo"]
    assert by_model["base"]["runs"] == "4"
    assert by_model["base"]["success_rate"].startswith("0.250 [")
    assert by_model["sft"]["success_rate"].startswith("0.750 [")
    assert by_model["base"]["write_file_rate"].startswith("0.500 [")
    for model, cells in by_model.items():
        for name in HEADLINE:
            found = INTERVAL.fullmatch(cells[name])
            assert found, cells[name]
            point, lo, hi = (float(v) for v in found.groups())
            assert lo <= point <= hi, (model, name, cells[name])
            assert point == pytest.approx(written.metrics[model][name], abs=5e-4)
            assert lo == pytest.approx(written.metrics[model][f"{name}_ci_low"], abs=5e-4)


def test_markdown_says_how_many_tasks_and_runs(written: Written) -> None:
    head = md(written).split("## Metrics")[0]
    assert "Held-out tasks and runs differ by model" in head
    assert "dpo 2 tasks, 1-2 runs per task" in head


def test_design_line_of_greedy_and_sampled_runs(tmp_path: Path) -> None:
    traces = write_traces(tmp_path, ["base", "sft"])
    runs = {m: runs_frame([r.result for r in read_trace(p).results]) for m, p in traces.items()}
    assert design_line(runs) == (
        "2 held-out tasks, 2 runs per task and model: k = 0 greedy, k = 1 sampled "
        "(seed eval.seed + k, the same for every model)."
    )


def test_markdown_has_deltas_vs_base(written: Written) -> None:
    rows = table_rows(section(md(written), "Change vs base"))
    assert rows[0] == ["model", *TABLE_METRICS[1:]]
    assert [r[0] for r in rows[1:]] == ["sft", "dpo"]
    delta = dict(zip(rows[0], rows[1], strict=True))
    assert delta["success_rate"] == "+0.500"
    assert delta["write_file_rate"] == "+0.500"
    assert delta["parse_error_rate"] == "-0.250"
    assert delta["avg_steps"] == "+0.000"


def paired_tables(text: str) -> dict[str, tuple[str, list[list[str]]]]:
    """`### a → b` -> (the note under it, its table rows)."""
    out = {}
    for chunk in section(text, "Paired differences").split("### ")[1:]:
        title, body = chunk.split("\n", 1)
        note = next(line for line in body.splitlines() if line.strip())
        out[title] = (note, table_rows(body))
    return out


def test_markdown_has_paired_differences(written: Written) -> None:
    tables = paired_tables(md(written))
    assert list(tables) == ["sft → dpo", "base → dpo", "base → sft"]
    for _, rows in tables.values():
        assert rows[0] == ["metric", "difference", "95% CI", "CI excludes 0"]
        assert [r[0] for r in rows[1:]] == list(HEADLINE)
        for _, diff, ci, excludes in rows[1:]:
            lo, hi = (float(v) for v in ci.strip("[]").split(", "))
            assert lo <= float(diff) <= hi
            assert excludes == ("yes" if lo > 0 or hi < 0 else "no")
    rows = {r[0]: r for r in tables["base → sft"][1]}
    assert rows["success_rate"][1] == "+0.500"  # all 4 runs pair: 0.75 - 0.25
    assert rows["parse_error_rate"][1] == "-0.250"  # 0/12 - 3/12
    rows = {r[0]: r for r in tables["base → dpo"][1]}
    assert rows["success_rate"][1] == "+0.667"  # 3 paired runs: 2/3 - 0/3
    assert rows["parse_error_rate"][1] == "-0.222"  # 1/9 - 3/9
    rows = {r[0]: r for r in tables["sft → dpo"][1]}
    assert rows["parse_error_rate"][1] == "+0.111"  # dpo's one parse error in 9 steps
    assert rows["success_rate"][1] == "+0.000"


def test_paired_differences_say_which_runs_are_left_out(written: Written) -> None:
    tables = paired_tables(md(written))
    assert tables["base → sft"][0] == "4 paired runs on 2 tasks."
    note = tables["sft → dpo"][0]
    assert note.startswith("3 paired runs on 2 tasks. Only runs present in both count:")
    assert "1 of sft's 4 runs and 0 of dpo's 3 runs have no partner" in note
    assert written.metrics["sft_to_dpo"]["runs"] == 3


def test_markdown_has_breakdowns(written: Written) -> None:
    cat = table_rows(section(md(written), "By category"))
    assert cat[0] == ["model", "category", "runs", "success", "write_file", "parse_err"]
    assert ["base", "math", "2", "0.500", "1.000", "0.000"] in cat
    assert ["sft", "sorting", "2", "0.500", "1.000", "0.000"] in cat
    diff = table_rows(section(md(written), "By difficulty"))
    assert diff[0][1] == "difficulty"
    assert ["base", "easy", "2", "0.000", "0.000", "0.500"] in diff
    assert ["sft", "hard", "2", "1.000", "1.000", "0.000"] in diff


def test_markdown_has_failure_reasons(written: Written) -> None:
    rows = table_rows(section(md(written), "Top failure reasons"))
    assert rows[0] == ["model", "reason", "count"]
    assert ["base", "parse error: invalid_json", "3"] in rows
    assert ["base", "3 consecutive parse errors", "1"] in rows
    assert ["base", "finished without writing a fix", "1"] in rows
    assert ["base", "wrote a fix that fails the tests", "1"] in rows
    assert ["sft", "policy error: <boom> & more", "1"] in rows


def test_html_is_self_contained(written: Written) -> None:
    text = (written.reports / "eval.html").read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text and "<link" not in text
    assert text.count("<table>") == 8  # metrics, vs base, 3 pairs, 2 breakdowns, failures
    assert "<h1>Evaluation on held-out tasks</h1>" in text
    assert "<h2>Change vs base</h2>" in text
    assert "<h3>sft → dpo</h3>" in text
    assert "<p>4 paired runs on 2 tasks.</p>" in text
    for src in re.findall(r"src='([^']+)'", text):
        assert (written.reports / src).is_file()


def test_html_escapes_cells(written: Written) -> None:
    text = (written.reports / "eval.html").read_text(encoding="utf-8")
    assert "<td>policy error: &lt;boom&gt; &amp; more</td>" in text
    assert "<boom>" not in text


def test_plot_data_csv(written: Written) -> None:
    with (written.plots / "eval_metrics.csv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["model", *TABLE_METRICS[1:]]
    assert [r[0] for r in rows[1:]] == ["base", "sft", "dpo"]  # models only, no pair blocks
    sft = dict(zip(rows[0], rows[2], strict=True))
    assert sft["success_rate"] == "0.75"
    for row in rows[1:]:
        [float(v) for v in row[1:]]


def test_png_is_written(written: Written) -> None:
    png = written.reports / "eval_metrics.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 1000


def test_report_without_base_has_no_deltas(tmp_path: Path) -> None:
    traces = write_traces(tmp_path, ["sft"])
    write_report(traces, metrics_of(traces), tmp_path / "r", tmp_path / "p", **BOOTSTRAP)
    text = (tmp_path / "r" / "eval.md").read_text(encoding="utf-8")
    assert "## Metrics" in text and "## Change vs base" not in text
    assert "## Paired differences" not in text
    assert "## By difficulty" in text


def test_report_of_plain_metric_blocks_shows_plain_values(tmp_path: Path) -> None:
    traces = write_traces(tmp_path, ["base"])
    plain = {"base": {k: v for k, v in metrics_of(traces)["base"].items() if "_ci_" not in k}}
    write_report(traces, plain, tmp_path / "r", tmp_path / "p", **BOOTSTRAP)
    rows = table_rows(section((tmp_path / "r" / "eval.md").read_text(encoding="utf-8"), "Metrics"))
    assert rows[1][TABLE_METRICS.index("success_rate") + 1] == "0.250"


def test_markdown_table() -> None:
    assert markdown_table(["a", "b"], [["1", "2"]]) == "| a | b |\n|---|---|\n| 1 | 2 |"


def test_the_constrained_section_sets_each_model_beside_its_grammar_arm(tmp_path: Path) -> None:
    from repo_agent.pipeline.report import usage_block
    from repo_agent.records import Usage

    traces = write_traces(tmp_path, ["base", "sft", "sft+grammar"])
    metrics = metrics_of(traces)
    metrics["sft"] |= usage_block(Usage(completion_tokens=1000, decode_s=2.0))
    metrics["sft+grammar"] |= usage_block(Usage(completion_tokens=1000, decode_s=2.6))
    write_report(traces, metrics, tmp_path / "reports", tmp_path / "plots", **BOOTSTRAP)
    text = (tmp_path / "reports" / "eval.md").read_text(encoding="utf-8")
    part = section(text, "Fine-tuning vs constrained decoding")
    rows = table_rows(part)
    assert [r[0] for r in rows[1:]] == ["sft", "sft+grammar"]  # base has no grammar arm
    assert rows[1][1].startswith("0.000") and rows[1][-1] == "2.000"
    assert rows[2][-1] == "2.600"
    assert "- sft: 2.000 ms → 2.600 ms (×1.30)" in part
    # The grammar arm also pairs with its model in the paired differences.
    assert "### sft → sft+grammar" in section(text, "Paired differences")
    assert "sft_to_sft+grammar" in metrics


def test_no_constrained_section_without_grammar_arms(written: Written) -> None:
    assert "constrained decoding" not in md(written)
