"""Running a task's test command in a subprocess."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from repo_agent.runtime.testrun import command_argv, run_tests


def test_python_means_this_interpreter() -> None:
    assert command_argv("python -m pytest -q tests") == [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "tests",
    ]
    assert command_argv("python3 x.py")[0] == sys.executable
    assert command_argv("make test") == ["make", "test"]


def test_pass_and_fail(tmp_path: Path) -> None:
    ok = run_tests(tmp_path, "python -c \"print('fine')\"", 30)
    assert ok.passed and ok.output == "fine\n" and not ok.timed_out
    bad = run_tests(tmp_path, "python -c \"import sys; sys.exit('broken')\"", 30)
    assert not bad.passed and "broken" in bad.output


def test_runs_in_the_workdir_without_pythonpath(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    code = "import os, sys; print(os.getcwd()); print(os.environ.get('PYTHONPATH'))"
    out = run_tests(tmp_path, f'python -c "{code}"', 30)
    assert out.output.splitlines() == [str(tmp_path), "None"]


def test_output_that_is_not_utf8(tmp_path: Path) -> None:
    out = run_tests(tmp_path, "python -c \"import sys; sys.stdout.buffer.write(b'ok \\xff')\"", 30)
    assert out.passed and out.output.startswith("ok ")


def test_output_is_cut_from_the_end(tmp_path: Path) -> None:
    out = run_tests(tmp_path, "python -c \"print('x' * 5000 + 'END')\"", 30, max_output=100)
    assert len(out.output) == 100 and out.output.endswith("END\n")


def test_timeout(tmp_path: Path) -> None:
    out = run_tests(
        tmp_path, "python -c \"import time; print('start', flush=True); time.sleep(30)\"", 1
    )
    assert not out.passed and out.timed_out
    assert "[timed out after 1s]" in out.output and out.duration_s < 15


def test_missing_command(tmp_path: Path) -> None:
    out = run_tests(tmp_path, "no-such-program-xyz --flag", 5)
    assert not out.passed and "could not run" in out.output
