"""The real `repo-agent` console script, run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repo_agent.records import RESULT_FORMAT, TRACE_FORMAT
from repo_agent.traces import read_results, read_trace

SCRIPT = Path(sys.executable).with_name("repo-agent")


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout + proc.stderr


def test_the_console_script_is_installed() -> None:
    assert SCRIPT.is_file(), SCRIPT
    proc = cli("--help")
    assert proc.returncode == 0 and "run" in proc.stdout and "tasks" in proc.stdout


def test_tasks_list() -> None:
    proc = cli("tasks", "list")
    assert proc.returncode == 0, output(proc)
    assert "builtin: 44 tasks" in proc.stdout
    for word in ("a_binary_search", "d_trie_delete", "bsearch.py", "dynamic_programming"):
        assert word in proc.stdout


def test_tasks_validate_quixbugs(quixbugs_root: Path) -> None:
    proc = cli("tasks", "validate", "--suite", "quixbugs", "--path", quixbugs_root)
    assert proc.returncode == 0, output(proc)
    assert "2/2 tasks valid" in proc.stdout
    assert "quixbugs_gcd" in proc.stdout and "quixbugs_list_length" in proc.stdout


def test_tasks_validate_reports_a_broken_task(quixbugs_root: Path) -> None:
    # A "buggy" program identical to the correct one: its tests pass.
    correct = quixbugs_root / "correct_python_programs" / "gcd.py"
    (quixbugs_root / "python_programs" / "gcd.py").write_text(correct.read_text())
    proc = cli("tasks", "validate", "--suite", "quixbugs", "--path", quixbugs_root)
    assert proc.returncode == 1, output(proc)
    assert "1/2 tasks valid" in proc.stdout
    assert "the buggy version passes its tests" in proc.stdout


def test_tasks_validate_without_a_checkout(tmp_path: Path) -> None:
    proc = cli("tasks", "validate", "--suite", "quixbugs", "--path", tmp_path / "nope")
    assert proc.returncode == 2
    assert "error:" in proc.stdout and "not a QuixBugs checkout" in proc.stdout


def test_run_writes_results_and_traces_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "tmp" / "results.jsonl"
    traces = tmp_path / "tmp" / "results.traces.jsonl"
    args = [
        "run",
        "--suite",
        "builtin",
        "--task",
        "a_binary_search",
        "--policy",
        "oracle",
        "--out",
        out,
    ]
    proc = cli(*args)
    assert proc.returncode == 0, output(proc)
    assert "TOTAL" in proc.stdout and f"results: {out}" in " ".join(proc.stdout.split())

    [result] = read_results(out)
    assert result.task_id == "a_binary_search" and result.run_id == "a_binary_search:oracle:0"
    assert result.success and result.steps == 5 and result.error is None
    trace = read_trace(traces)
    assert [r.result for r in trace.results] == [result]
    assert len(trace.steps) == 5 and {s.run_id for s in trace.steps} == {result.run_id}
    formats = [json.loads(x)["format"] for x in traces.read_text(encoding="utf-8").split("\n") if x]
    assert formats == [TRACE_FORMAT] * 5 + [RESULT_FORMAT]
    trace_bytes, result_bytes = traces.read_bytes(), out.read_bytes()

    # The same command again: nothing to do, nothing duplicated.
    again = cli(*args)
    assert again.returncode == 0, output(again)
    assert traces.read_bytes() == trace_bytes and out.read_bytes() == result_bytes

    # More rollouts: only the missing run is added.
    more = cli(*args, "--rollouts", "2")
    assert more.returncode == 0, output(more)
    results = read_results(out)
    assert [r.run_id for r in results] == ["a_binary_search:oracle:0", "a_binary_search:oracle:1"]
    assert results[0] == result
    assert [r.result.run_id for r in read_trace(traces).results] == [r.run_id for r in results]


def test_run_without_out_prints_a_summary() -> None:
    proc = cli("run", "--task", "a_gcd_lcm", "--test-policy", "never", "--max-steps", "3")
    assert proc.returncode == 0, output(proc)
    assert "a_gcd_lcm" in proc.stdout and "step limit reached (max_steps=3)" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run"], "give --task ID (repeatable) or --all"),
        (["run", "--suite", "builtin"], "give --task ID (repeatable) or --all"),
        (["run", "--task", "a_binary_search", "--all"], "give --task ID (repeatable) or --all"),
        (["run", "--task", "no_such_task"], "unknown task id(s): no_such_task"),
        (["run", "--task", "a_binary_search", "--task", "zzz"], "unknown task id(s): zzz"),
        (
            ["run", "--task", "a_binary_search", "--test-policy", "sometimes"],
            "--test-policy: Input should be 'never', 'on_final' or 'after_write'",
        ),
        (["run", "--suite", "nope", "--all"], "unknown suite 'nope'"),
        (["run", "--suite", "quixbugs", "--all"], "needs --path"),
        (["tasks", "list", "--suite", "mutants"], "needs --path"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    proc = cli(*args)
    assert proc.returncode == 2, output(proc)
    text = " ".join(output(proc).split())
    assert "error:" in text and message in text, text


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--all", "--policy", "gpt"],
        ["run", "--all", "--tool-protocol", "xml"],
        ["run", "--all", "--rollouts", "0"],
        ["tasks", "frobnicate"],
    ],
)
def test_invalid_option_values_are_usage_errors(args: list[str]) -> None:
    proc = cli(*args)
    assert proc.returncode == 2, output(proc)
    assert "Invalid value" in proc.stderr or "No such command" in proc.stderr


def test_run_refuses_other_settings_on_the_same_out(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    args = ["run", "--task", "a_gcd_lcm", "--out", out]
    assert cli(*args).returncode == 0
    before = out.read_bytes()
    proc = cli(*args, "--explore", "0.5")
    assert proc.returncode == 2
    text = " ".join(output(proc).split())
    assert f"error: {out} holds runs made with other settings: explore 0.0 → 0.5" in text
    assert "--force" in text and out.read_bytes() == before
    assert json.loads((tmp_path / "results.settings.json").read_text())["explore"] == 0.0
