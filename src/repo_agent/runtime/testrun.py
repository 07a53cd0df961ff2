"""Run a task's test command in a subprocess with a timeout."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TestOutcome:
    passed: bool
    output: str
    duration_s: float
    timed_out: bool = False


def command_argv(test_cmd: str) -> list[str]:
    """Split a test command; a leading `python` means this interpreter."""
    argv = shlex.split(test_cmd)
    if argv and argv[0] in {"python", "python3"}:
        argv[0] = sys.executable
    return argv


def run_tests(
    workdir: Path, test_cmd: str, timeout_s: float, max_output: int = 4000
) -> TestOutcome:
    """Run `test_cmd` in `workdir`; passed means exit status 0 within the timeout."""
    # Plugin autoload costs ~2 s per pytest start with a full ML environment installed.
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    env.pop("PYTHONPATH", None)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [
                *command_argv(test_cmd),
                *(["-p", "no:cacheprovider"] if "pytest" in test_cmd else []),
            ],
            cwd=workdir,
            capture_output=True,
            text=True,
            errors="replace",  # a test may print bytes that are not UTF-8
            timeout=timeout_s,
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        out = (
            (exc.stdout or b"").decode("utf-8", "replace")
            if isinstance(exc.stdout, bytes)
            else (exc.stdout or "")
        )
        return TestOutcome(
            False,
            f"{out[-max_output:]}\n[timed out after {timeout_s}s]",
            time.monotonic() - start,
            timed_out=True,
        )
    except OSError as exc:
        return TestOutcome(False, f"could not run {test_cmd!r}: {exc}", time.monotonic() - start)
    output = (proc.stdout + proc.stderr)[-max_output:]
    return TestOutcome(proc.returncode == 0, output, time.monotonic() - start)
