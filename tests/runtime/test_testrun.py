"""Running a task's test command in a subprocess."""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import require

from repo_agent.runtime.testrun import HeadTail, command_argv, run_tests


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
    assert ok.passed and ok.output == "fine\n" and not ok.timed_out and not ok.could_not_start
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


def test_output_keeps_head_and_tail(tmp_path: Path) -> None:
    code = "print('HEAD' + 'x' * 5000 + 'END')"
    out = run_tests(tmp_path, f'python -c "{code}"', 30, max_output_chars=100)
    assert out.output.startswith("HEAD") and out.output.endswith("END\n")
    assert out.output == f"HEAD{'x' * 21}\n[... 4908 chars cut ...]\n{'x' * 71}END\n"
    assert out.cut_chars == 4908 and out.passed


def test_stderr_is_merged_into_the_output(tmp_path: Path) -> None:
    code = "import sys; print('out', flush=True); print('err', file=sys.stderr)"
    out = run_tests(tmp_path, f'python -c "{code}"', 30)
    assert out.output == "out\nerr\n"


def test_timeout(tmp_path: Path) -> None:
    out = run_tests(
        tmp_path, "python -c \"import time; print('start', flush=True); time.sleep(30)\"", 1
    )
    assert not out.passed and out.timed_out and not out.could_not_start
    assert out.output == "start\n\n[timed out after 1s]" and out.duration_s < 15


@pytest.mark.parametrize(
    ("test_cmd", "why"),
    [
        ("no-such-program-xyz --flag", "no-such-program-xyz: not found"),
        ("python -m pytest -k 'unbalanced", "cannot parse"),
        ("   ", "the command is empty"),
        ("./not-executable.sh", "./not-executable.sh: permission denied"),
        ("sh -c 'exit 127'", "exit status 127 (command not found)"),
        ("sh -c 'exit 126'", "exit status 126 (not executable)"),
    ],
)
@pytest.mark.parametrize("sandbox", ["auto", "none"])
def test_a_command_that_cannot_start(tmp_path: Path, test_cmd: str, why: str, sandbox: str) -> None:
    (tmp_path / "not-executable.sh").write_text("#!/bin/sh\nexit 0\n")
    out = run_tests(tmp_path, test_cmd, 5, sandbox=sandbox)
    assert out.could_not_start and not out.passed and not out.timed_out
    first = out.output.splitlines()[0]
    assert first.startswith("test command cannot start: ") and why in first
    assert out.start_error() == first


def test_a_command_bwrap_cannot_exec_cannot_start(tmp_path: Path) -> None:
    """Found here, but hidden in the sandbox (another dir of the private /tmp): bwrap's own
    `execvp` error is recognised."""
    require("bwrap")
    other = Path(tempfile.mkdtemp(prefix="ra-elsewhere-"))
    try:
        tool = other / "tool.sh"
        tool.write_text("#!/bin/sh\nexit 0\n")
        tool.chmod(0o755)
        out = run_tests(tmp_path, str(tool), 5, sandbox="bwrap")
    finally:
        shutil.rmtree(other)
    assert out.could_not_start and "bwrap: execvp" in out.output.splitlines()[0]


def test_a_failing_script_is_not_a_command_that_cannot_start(tmp_path: Path) -> None:
    out = run_tests(tmp_path, "sh -c 'exit 1'", 5)
    assert not out.passed and not out.could_not_start


def test_head_tail_counts_what_it_drops() -> None:
    whole = "é" * 300 + "".join(f"{i:05d}" for i in range(2000)) + "ü" * 300
    data = whole.encode()
    kept = HeadTail(1000)
    for i in range(0, len(data), 7):  # chunks split the two-byte characters
        kept.feed(data[i : i + 7])
    text = kept.text()
    assert kept.cut == len(whole) - 1000
    assert text == f"{whole[:250]}\n[... {kept.cut} chars cut ...]\n{whole[-750:]}"
    short = HeadTail(1000)
    short.feed(b"abc \xff")
    assert short.text() == "abc \ufffd" and short.cut == 0


def test_file_descriptors_above_1024(tmp_path: Path) -> None:
    """A busy parent (many runs, many open files) gets pipe fds that select() cannot take."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below 1200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = []
    try:
        with open(os.devnull) as null:
            held = [os.dup(null.fileno()) for _ in range(1100)]
        out = run_tests(tmp_path, "python -c \"print('fine')\"", 30)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert out.passed and out.output == "fine\n"
