"""The QuixBugs loader, on a tiny checkout in the QuixBugs layout written by the test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import QUIX_GCD_CORRECT, write_quixbugs

from repo_agent.runtime.task import TaskFileError
from repo_agent.suites.loader import load_suite
from repo_agent.suites.quixbugs import load_quixbugs
from repo_agent.suites.validate import validate_tasks


def test_load(quixbugs_root: Path) -> None:
    tasks = load_suite("quixbugs", quixbugs_root)
    assert [t.id for t in tasks] == ["quixbugs_gcd", "quixbugs_list_length"]
    gcd, length = tasks
    assert gcd.suite == "quixbugs"
    assert gcd.spec.expected_files == ["python_programs/gcd.py"]
    assert gcd.spec.test_cmd == "python -m pytest -q -x python_testcases/test_gcd.py"
    assert (
        "python_programs/gcd.py" in gcd.spec.goal
        and "python_testcases/test_gcd.py" in gcd.spec.goal
    )
    assert gcd.metadata.category == "quixbugs"
    assert gcd.fix == {"python_programs/gcd.py": QUIX_GCD_CORRECT}
    assert sorted(gcd.files) == [
        "conftest.py",
        "json_testcases/gcd.json",
        "python_programs/gcd.py",
        "python_programs/node.py",
        "python_testcases/load_testdata.py",
        "python_testcases/test_gcd.py",
    ]
    assert "json_testcases/list_length.json" not in length.files
    assert "python_programs/node.py" in length.files
    for t in tasks:
        # The correct programs never reach the workspace.
        assert not any(p.startswith("correct_python_programs") for p in t.files)


def test_validate_buggy_fails_and_fix_passes(quixbugs_root: Path) -> None:
    results = validate_tasks(load_quixbugs(quixbugs_root), workers=2)
    assert [v.task_id for v in results] == ["quixbugs_gcd", "quixbugs_list_length"]
    for v in results:
        assert v.ok, v
        assert v.buggy_fails and v.fix_passes


def test_a_checkout_without_conftest_gets_one(tmp_path: Path) -> None:
    root = write_quixbugs(tmp_path / "qb", with_conftest=False)
    tasks = load_quixbugs(root)
    conftest = tasks[0].files["conftest.py"]
    assert not conftest.is_relative_to(root)
    assert "pytest.use_correct" in conftest.read_text(encoding="utf-8")
    [v] = validate_tasks(tasks[:1], workers=1)
    assert v.ok, v


@pytest.mark.parametrize(
    "missing", ["python_programs", "correct_python_programs", "python_testcases"]
)
def test_missing_dir_is_a_clear_error(quixbugs_root: Path, missing: str) -> None:
    shutil.rmtree(quixbugs_root / missing)
    with pytest.raises(TaskFileError) as info:
        load_suite("quixbugs", quixbugs_root)
    assert str(info.value) == f"{quixbugs_root}: not a QuixBugs checkout (missing {missing}/)"


def test_nonexistent_checkout(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match="not a QuixBugs checkout"):
        load_quixbugs(tmp_path / "no-such-dir")


def test_checkout_without_tasks(tmp_path: Path) -> None:
    for d in ("python_programs", "correct_python_programs", "python_testcases"):
        (tmp_path / d).mkdir()
    with pytest.raises(TaskFileError, match="no QuixBugs programs with tests found"):
        load_quixbugs(tmp_path)
