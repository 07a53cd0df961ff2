"""The data steps on the command line (sft-extract, pairs, split) on the files `repo-agent run`
writes: they write what the stages' functions write, and bad inputs are clear errors (exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from repo_agent.cli.app import app
from repo_agent.data.config import ExtractParams, PairParams, RubricParams, SplitParams
from repo_agent.files import read_jsonl, write_jsonl
from repo_agent.formats import validate_preference_row, validate_sft_row
from repo_agent.inputs import InputFileError, file_kind
from repo_agent.pipeline import extract as pipeline_extract
from repo_agent.pipeline.extract import extract_files
from repo_agent.pipeline.pair import pair_files
from repo_agent.pipeline.runs import label_student_states
from repo_agent.pipeline.split import split_files
from repo_agent.policies.oracle import OraclePolicy
from repo_agent.policies.scripted import ScriptedPolicy
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.runtime.task import Task
from repo_agent.runtime.tools import openai_tool_schemas
from repo_agent.traces import TraceWriter

TASKS = ("a_binary_search", "a_gcd_lcm", "b_bfs_order")
STUDENT_SCRIPT = [
    "hello",  # invalid_json
    '{"type":"tool_call","name":"bash","args":{}}',  # unknown_tool
    '{"type":"final","summary":"done"}',  # premature final
]


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={"NO_COLOR": "1"})


def said(result: Result) -> str:
    """The command's output with rich's line wrapping and table columns undone."""
    return " ".join(result.output.replace("│", " ").split())


def failed(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "error:" in said(result), result.output
    for w in words:
        assert w in said(result), result.output


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, task_by_id: dict[str, Task]) -> Path:
    """`repo-agent run --out x.jsonl` (oracle, json) on three tasks, the same with the native
    protocol on another task, and a scripted student on two with the oracle's labels."""
    root = tmp_path_factory.mktemp("made")
    args = ["run", "--suite", "builtin", "--policy", "oracle", "--explore", "0.3"]
    ran = invoke(*args, *(f"--task={t}" for t in TASKS), "--out", root / "x.jsonl")
    assert ran.exit_code == 0, ran.output
    native = ["--task", "a_palindrome", "--tool-protocol", "native", "--out", root / "n.jsonl"]
    ran = invoke(*args, *native)
    assert ran.exit_code == 0, ran.output
    tasks = [task_by_id[t] for t in TASKS[:2]]
    writer = TraceWriter(root / "student.traces.jsonl")
    run_episodes(
        [RunSpec(t, f"{t.id}:student:0", role="student") for t in tasks],
        ScriptedPolicy(STUDENT_SCRIPT, name="student"),
        AgentConfig(test_policy="never"),
        writer.write_run,
    )
    label_student_states(OraclePolicy(tasks), writer.path, root / "labels.jsonl")
    return root


@pytest.fixture
def work(made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the made files as the working directory (short relative paths)."""
    for p in made.iterdir():
        shutil.copy(p, tmp_path / p.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


PAIR_OPTS = [
    "--loop-penalty=2",
    "--invalid-penalty=8",
    "--min-margin=1",
    "--min-context-chars=300",
    "--corruption=broken_json",
    "--corruption=unknown_tool",
    "--corruption=premature_final",
    "--corruptions-per-step=2",
    "--seed=3",
    "--small-read-chars=150",
]
RUBRIC = RubricParams(loop_penalty=2, invalid_penalty=8, min_margin=1, min_context_chars=300)
PAIR = PairParams(
    corruptions=["broken_json", "unknown_tool", "premature_final"], corruptions_per_step=2, seed=3
)


def test_help_says_what_the_tool_does() -> None:
    result = invoke("--help")
    assert result.exit_code == 0, result.output
    text = said(result)
    assert "thin:" not in text and "fix bugs" in text
    for word in ("run", "view", "extract", "pair", "split", "estimate", "tasks"):
        assert word in text
    for panel in ("Runtime", "Data", "Training", "Tasks"):
        assert panel in text


def test_sft_extract_writes_what_the_extract_stage_writes(work: Path) -> None:
    traces = [Path("x.traces.jsonl")]
    counts = extract_files(traces, Path("stage.jsonl"), ExtractParams())
    result = invoke("extract", *traces, "--out", "sft.jsonl")
    assert result.exit_code == 0, result.output
    assert Path("sft.jsonl").read_bytes() == Path("stage.jsonl").read_bytes()
    assert f"{counts['rows']} SFT rows from {counts['steps']} steps: sft.jsonl" in said(result)
    rows = read_jsonl(Path("sft.jsonl"))
    assert len(rows) == counts["rows"] > 0 and {r["task_id"] for r in rows} == set(TASKS)
    for r in rows:
        validate_sft_row(r["row"])


def test_sft_extract_options_are_the_extract_params(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    traces = [Path("x.traces.jsonl"), Path("student.traces.jsonl")]  # the student's runs failed
    config = ExtractParams(require_success=True, dedupe=False, max_chars=1500)
    counts = extract_files(traces, Path("stage.jsonl"), config)
    assert counts["failed_run"] > 0 and counts["too_long"] > 0
    opts = ["--require-success", "--no-dedupe", "--max-chars", "1500"]
    result = invoke("extract", *traces, *opts, "--out", "sft.jsonl")
    assert result.exit_code == 0, result.output
    assert Path("sft.jsonl").read_bytes() == Path("stage.jsonl").read_bytes()
    dropped = f"{counts['failed_run']} of failed runs, {counts['too_long']} too long"
    assert dropped in said(result)

    seen: list[ExtractParams] = []
    monkeypatch.setattr(pipeline_extract, "extract_files", lambda *a: seen.append(a[2]) or counts)
    assert invoke("extract", *traces, *opts, "--out", "sft.jsonl").exit_code == 0
    assert seen == [config]


def test_pairs_writes_what_the_pair_stage_writes(work: Path) -> None:
    agent = AgentConfig(small_read_chars=150)
    teacher = Path("x.traces.jsonl")
    metrics = pair_files([teacher], Path("stage.jsonl"), RUBRIC, PAIR, agent)
    result = invoke("pair", teacher, *PAIR_OPTS, "--out", "pairs.jsonl")
    assert result.exit_code == 0, result.output
    assert Path("pairs.jsonl").read_bytes() == Path("stage.jsonl").read_bytes()
    kept = f"{metrics['pairs']} pairs kept of {metrics['candidates']} candidates"
    assert kept in said(result)
    assert set(metrics["by_source"]) == {"corruption"}
    for by in ("source", "reason"):
        for name, n in metrics[f"by_{by}"].items():
            assert f"{by} {name} {n}" in said(result)
    rows = read_jsonl(Path("pairs.jsonl"))
    assert len(rows) == metrics["pairs"]
    for r in rows:
        validate_preference_row(r["row"])
    for r in rows:
        assert r["reason"] in PAIR.corruptions or r["reason"].startswith("student_")


def test_split_writes_what_the_split_stage_writes(work: Path) -> None:
    assert invoke("extract", "x.traces.jsonl", "--out", "sft.jsonl").exit_code == 0
    assert invoke("pair", "x.traces.jsonl", "--out", "pairs.jsonl").exit_code == 0
    sft, pairs = Path("sft.jsonl"), Path("pairs.jsonl")
    tasks = split_files(sft, pairs, Path("stage"), SplitParams(heldout_fraction=0.34, seed=1))
    opts = ["--heldout-fraction=0.34", "--seed=1"]
    result = invoke("split", "--sft", sft, "--pairs", pairs, "--out", "split", *opts)
    assert result.exit_code == 0, result.output
    for rel in ("train/sft.jsonl", "train/pairs.jsonl", "heldout/sft.jsonl", "tasks.json"):
        assert (work / "split" / rel).read_bytes() == (work / "stage" / rel).read_bytes()
    assert f"{len(tasks['train'])} train tasks, {len(tasks['heldout'])} held-out" in said(result)
    assert "split/train/sft.jsonl" in said(result) and "split/tasks.json" in said(result)
    held = set(json.loads(Path("split/tasks.json").read_text())["heldout"])
    assert held and held < set(TASKS)
    # No held-out task in a training row: the training rows are those of the other tasks.
    for name, source in (("sft", sft), ("pairs", pairs)):
        want = [r["row"] for r in read_jsonl(source) if r["task_id"] not in held]
        assert read_jsonl(work / "split" / "train" / f"{name}.jsonl") == want
    for r in read_jsonl(work / "split" / "train" / "sft.jsonl"):
        validate_sft_row(r)


def test_file_kinds_of_what_the_steps_write(work: Path) -> None:
    invoke("extract", "x.traces.jsonl", "--out", "sft.jsonl")
    invoke("pair", "x.traces.jsonl", "--out", "pairs.jsonl")
    invoke("split", "--sft", "sft.jsonl", "--pairs", "pairs.jsonl", "--out", "split")
    kinds = {
        "x.traces.jsonl": "traces",
        "x.jsonl": "results",
        "labels.jsonl": "labels",
        "sft.jsonl": "sft",
        "pairs.jsonl": "pairs",
        "split/train/sft.jsonl": "sft_row",
        "split/train/pairs.jsonl": "preference_row",
    }
    assert {p: file_kind(Path(p)) for p in kinds} == kinds


# --- bad inputs: exit 2 and an `error:` naming the file ---


@pytest.mark.parametrize("command", ["extract", "pair"])
def test_a_missing_traces_file(work: Path, command: str) -> None:
    failed(invoke(command, "nope.traces.jsonl", "--out", "o.jsonl"), "nope.traces.jsonl")
    assert not Path("o.jsonl").exists()


@pytest.mark.parametrize("command", ["extract", "pair"])
def test_a_results_file_names_its_traces_file(work: Path, command: str) -> None:
    result = invoke(command, "x.jsonl", "--out", "o.jsonl")
    failed(result, "x.jsonl is a results file", "give x.traces.jsonl")


@pytest.mark.parametrize("command", ["extract", "pair"])
@pytest.mark.parametrize("given", ["sft", "pairs"])
def test_step_output_given_as_traces(work: Path, command: str, given: str) -> None:
    invoke("extract", "x.traces.jsonl", "--out", "sft.jsonl")
    invoke("pair", "x.traces.jsonl", "--out", "pairs.jsonl")
    what = {"sft": "SFT rows", "pairs": "preference pairs"}[given]
    failed(invoke(command, f"{given}.jsonl", "--out", "o.jsonl"), f"{given}.jsonl holds {what}")


def test_every_rubric_and_pair_field_is_an_option_of_pair() -> None:
    """The options come from the models: a new field is an option without a CLI edit."""
    command = typer.main.get_command(app).commands["pair"]  # type: ignore[attr-defined]
    flags = {flag for param in command.params for flag in param.opts}
    fields = [*RubricParams.model_fields, *PairParams.model_fields.keys() - {"use_student"}]
    wanted = {"--" + f.replace("_", "-") for f in fields} - {"--corruptions"} | {"--corruption"}
    assert wanted <= flags, wanted - flags
    assert "--unseen-path-penalty" in flags


def test_an_option_defaults_to_its_params_field(work: Path) -> None:
    """Left out, an option takes the model's default: the same pairs as the default params."""
    pair_files(
        [Path("x.traces.jsonl")], Path("stage.jsonl"), RubricParams(), PairParams(), AgentConfig()
    )
    assert invoke("pair", "x.traces.jsonl", "--out", "pairs.jsonl").exit_code == 0
    assert Path("pairs.jsonl").read_bytes() == Path("stage.jsonl").read_bytes()
    result = invoke("pair", "x.traces.jsonl", "--unseen-path-penalty=-1", "--out", "o.jsonl")
    assert result.exit_code == 2 and "--unseen-path-penalty" in said(result)


@pytest.mark.parametrize("command", ["extract", "pair"])
def test_traces_of_two_protocols(work: Path, command: str) -> None:
    result = invoke(command, "x.traces.jsonl", "n.traces.jsonl", "--out", "o.jsonl")
    failed(result, "two tool protocols", "json in x.traces.jsonl", "native in n.traces.jsonl")


def test_pairs_wants_the_protocol_of_its_traces(work: Path) -> None:
    failed(invoke("pair", "n.traces.jsonl", "--out", "o.jsonl"), "--tool-protocol native")
    result = invoke("pair", "n.traces.jsonl", "--tool-protocol", "native", "--out", "o.jsonl")
    assert result.exit_code == 0, result.output
    assert read_jsonl(Path("o.jsonl"))[0]["row"]["preferred_output"][0].get("tool_calls")


def test_native_traces_give_rows_that_carry_the_tools(work: Path) -> None:
    failed(invoke("extract", "n.traces.jsonl", "--out", "o.jsonl"), "--tool-protocol native")
    native = ["--tool-protocol", "native"]
    result = invoke("extract", "n.traces.jsonl", *native, "--out", "sft.jsonl")
    assert result.exit_code == 0, result.output
    rows = [r["row"] for r in read_jsonl(Path("sft.jsonl"))]
    assert rows and all(r["tools"] == openai_tool_schemas() for r in rows)
    assert invoke("pair", "n.traces.jsonl", *native, "--out", "p.jsonl").exit_code == 0
    pairs = [r["row"] for r in read_jsonl(Path("p.jsonl"))]
    assert pairs and all(p["input"]["tools"] == openai_tool_schemas() for p in pairs)
    # bare rows (as split writes them) with tools are still told apart by their keys
    write_jsonl(Path("bare_sft.jsonl"), rows)
    write_jsonl(Path("bare_pairs.jsonl"), pairs)
    assert file_kind(Path("bare_sft.jsonl")) == "sft_row"
    assert file_kind(Path("bare_pairs.jsonl")) == "preference_row"


@pytest.mark.parametrize("command", ["extract", "pair"])
def test_one_run_given_twice(work: Path, command: str) -> None:
    twice = invoke(command, "x.traces.jsonl", "x.traces.jsonl", "--out", "o.jsonl")
    failed(twice, "x.traces.jsonl is given twice")
    shutil.copy("x.traces.jsonl", "copy.traces.jsonl")
    copied = invoke(command, "x.traces.jsonl", "copy.traces.jsonl", "--out", "o.jsonl")
    failed(copied, "is in both x.traces.jsonl and copy.traces.jsonl")


def test_the_output_may_not_be_an_input(work: Path) -> None:
    before = Path("x.traces.jsonl").read_bytes()
    failed(invoke("extract", "x.traces.jsonl", "--out", "x.traces.jsonl"), "x.traces.jsonl")
    assert Path("x.traces.jsonl").read_bytes() == before


def test_split_wants_step_outputs_with_task_ids(work: Path) -> None:
    invoke("extract", "x.traces.jsonl", "--out", "sft.jsonl")
    invoke("pair", "x.traces.jsonl", "--out", "pairs.jsonl")
    invoke("split", "--sft", "sft.jsonl", "--pairs", "pairs.jsonl", "--out", "split")

    def split(sft: str, pairs: str) -> Result:
        return invoke("split", "--sft", sft, "--pairs", pairs, "--out", "again")

    failed(split("x.traces.jsonl", "pairs.jsonl"), "x.traces.jsonl holds traces", "extract")
    failed(split("sft.jsonl", "x.jsonl"), "x.jsonl holds run results")
    bare = "holds bare"
    failed(split("split/train/sft.jsonl", "pairs.jsonl"), f"split/train/sft.jsonl {bare} SFT")
    failed(split("sft.jsonl", "split/train/pairs.jsonl"), f"split/train/pairs.jsonl {bare} pref")
    failed(split("pairs.jsonl", "sft.jsonl"), "pairs.jsonl holds preference pairs")
    failed(split("sft.jsonl", "nope.jsonl"), "no such file: nope.jsonl")
    assert not Path("again").exists()


def test_the_stage_functions_check_their_inputs(work: Path) -> None:
    with pytest.raises(InputFileError, match="results file"):
        extract_files([Path("x.jsonl")], Path("o.jsonl"), ExtractParams())
    with pytest.raises(InputFileError, match="no such file"):
        pair_files([Path("nope.traces.jsonl")], Path("o.jsonl"), RUBRIC, PAIR, AgentConfig())
    with pytest.raises(InputFileError, match="holds traces"):
        split_files(Path("x.traces.jsonl"), Path("x.traces.jsonl"), Path("s"), SplitParams())


# --- nothing to write: a warning, not a crash ---


def test_no_rows_is_a_warning(work: Path) -> None:
    Path("empty.traces.jsonl").write_text("")
    for command in ("extract", "pair"):
        result = invoke(command, "empty.traces.jsonl", "--out", f"{command}s.jsonl")
        assert result.exit_code == 0, result.output
        assert "warning: no" in said(result) and Path(f"{command}s.jsonl").read_text() == ""
    too_long = invoke("extract", "x.traces.jsonl", "--max-chars", "200", "--out", "s.jsonl")
    assert too_long.exit_code == 0 and "warning: no SFT rows in s.jsonl" in said(too_long)
    failed(
        invoke("split", "--sft", "s.jsonl", "--pairs", "pairs.jsonl", "--out", "split"),
        "nothing to split",
    )
    invoke("extract", "x.traces.jsonl", "--out", "sft.jsonl")
    result = invoke("split", "--sft", "sft.jsonl", "--pairs", "pairs.jsonl", "--out", "split")
    assert result.exit_code == 0, result.output
    assert "warning: pairs.jsonl holds no rows" in said(result)
