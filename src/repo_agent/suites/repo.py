"""Any local repository as one task: the repo as it is, with tests that fail, and no fix."""

from __future__ import annotations

import re
from pathlib import Path

from repo_agent.runtime.task import DEFAULT_TEST_CMD, Task, TaskFileError, TaskSpec
from repo_agent.runtime.testrun import command_argv, run_tests
from repo_agent.runtime.workspace import Workspace, WorkspaceError

REPO_GOAL = "Fix the failing tests in this repo"


def load_repo_task(path: Path, test_cmd: str = DEFAULT_TEST_CMD, timeout_s: float = 120.0) -> Task:
    """The repository at `path` as a task; its tests must fail now (checked in a copy)."""
    root = path.expanduser().resolve()
    if not root.is_dir():
        raise TaskFileError(f"{path}: not a directory")
    try:
        command_argv(test_cmd)
    except ValueError as exc:  # before any temp dir exists
        raise TaskFileError(f"--test-cmd `{test_cmd}` cannot be parsed: {exc}") from None
    spec = TaskSpec(
        id=re.sub(r"[^A-Za-z0-9_.-]", "_", root.name) or "repo",
        goal=REPO_GOAL,
        difficulty="medium",
        category="repo",
        expected_files=[],
        test_cmd=test_cmd,
        timeout_s=timeout_s,
    )
    # Tests may write files: run them in a throw-away copy, never in the user's repo.
    try:
        ws = Workspace.create({}, root, prefix="ra-repo-check-")
    except (WorkspaceError, OSError) as exc:
        raise TaskFileError(f"{root}: cannot copy the repository to run its tests: {exc}") from None
    with ws:
        outcome = run_tests(ws.root, test_cmd, timeout_s)
    if outcome.could_not_start:
        why = outcome.output.splitlines()[0].removeprefix("test command cannot start: ")
        raise TaskFileError(f"{root}: the test command cannot start: {why}; check --test-cmd")
    if outcome.timed_out:
        raise TaskFileError(
            f"{root}: the tests did not finish within {timeout_s:g}s (`{test_cmd}`); "
            "narrow --test-cmd to a faster subset"
        )
    if outcome.passed:
        raise TaskFileError(
            f"{root}: the tests pass (`{test_cmd}`), so there is nothing to fix; "
            "the repo suite needs a repository with failing tests"
        )
    return Task(spec=spec, files={}, fix=None, suite="repo", source_root=root)
