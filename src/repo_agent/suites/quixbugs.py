"""Turn a user's QuixBugs checkout into tasks (QuixBugs itself is never shipped)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from repo_agent.runtime.task import Task, TaskFileError, TaskSpec

# Used only when the checkout has no conftest.py: QuixBugs tests read these two flags.
_CONFTEST = """import pytest


def pytest_addoption(parser):
    parser.addoption("--correct", action="store_true")
    parser.addoption("--runslow", action="store_true")


def pytest_configure(config):
    pytest.use_correct = config.getoption("--correct")
    pytest.run_slow = config.getoption("--runslow")
"""

SKIP_PROGRAMS = frozenset({"node", "__init__"})


def load_quixbugs(root: Path, timeout_s: float = 60.0) -> list[Task]:
    """One task per program in python_programs/ that has a correct version and a test file."""
    root = root.resolve()
    buggy_dir = root / "python_programs"
    correct_dir = root / "correct_python_programs"
    tests_dir = root / "python_testcases"
    for d in (buggy_dir, correct_dir, tests_dir):
        if not d.is_dir():
            raise TaskFileError(f"{root}: not a QuixBugs checkout (missing {d.name}/)")
    conftest = root / "conftest.py"
    if not conftest.is_file():
        conftest = Path(tempfile.mkdtemp(prefix="ra-quixbugs-")) / "conftest.py"
        conftest.write_text(_CONFTEST, encoding="utf-8")
    helpers = {
        f"python_testcases/{p.name}": p
        for p in sorted(tests_dir.glob("*.py"))
        if not p.name.startswith("test_")
    }
    shared = {"conftest.py": conftest, **helpers}
    node = buggy_dir / "node.py"
    if node.is_file():
        shared["python_programs/node.py"] = node
    tasks = []
    for program in sorted(buggy_dir.glob("*.py")):
        name = program.stem
        correct = correct_dir / program.name
        test_file = tests_dir / f"test_{name}.py"
        if name in SKIP_PROGRAMS or name.endswith("_test") or not correct.is_file():
            continue
        if not test_file.is_file():
            continue
        rel_program = f"python_programs/{name}.py"
        rel_test = f"python_testcases/test_{name}.py"
        files = {**shared, rel_program: program, rel_test: test_file}
        data = root / "json_testcases" / f"{name}.json"
        if data.is_file():
            files[f"json_testcases/{name}.json"] = data
        spec = TaskSpec(
            id=f"quixbugs_{name}",
            goal=(
                f"The function in {rel_program} has a bug: the tests in {rel_test} fail. "
                "Fix the bug so the tests pass."
            ),
            difficulty="medium",
            category="quixbugs",
            expected_files=[rel_program],
            test_cmd=f"python -m pytest -q -x {rel_test}",
            timeout_s=timeout_s,
        )
        fix = {rel_program: correct.read_text(encoding="utf-8")}
        tasks.append(Task(spec=spec, files=files, fix=fix, suite="quixbugs"))
    if not tasks:
        raise TaskFileError(f"{root}: no QuixBugs programs with tests found")
    return tasks
