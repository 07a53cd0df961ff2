"""A test that needs bubblewrap skips, saying why, where it is missing; where the run requires
it ($REPO_AGENT_REQUIRE_TOOLS, as .ci/run sets) the same test fails instead, so CI cannot pass
with its sandbox tests skipped. Real pytest subprocesses on a PATH without bwrap."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REQUIRED_ENV
from import_graph import ROOT

TEST = "tests/runtime/test_sandbox.py::test_auto_picks_bwrap_when_it_works"


def pytest_without_bwrap(required: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent), **{REQUIRED_ENV: required})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rs", "-p", "no:cacheprovider", "-p", "no:xdist", TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_missing_tool_skips_with_the_reason() -> None:
    proc = pytest_without_bwrap("")
    assert proc.returncode == 0, proc.stdout
    assert "1 skipped" in proc.stdout
    assert "needs bwrap: bubblewrap (bwrap) is not installed" in proc.stdout


def test_a_required_tool_that_is_missing_fails_the_run() -> None:
    proc = pytest_without_bwrap("bwrap chromium")
    assert proc.returncode == 1, proc.stdout
    assert "1 failed" in proc.stdout or "1 error" in proc.stdout
    assert f"bwrap is required here ({REQUIRED_ENV}) but unusable" in proc.stdout
