"""Task validation: the buggy version fails its tests and the reference fix passes."""

from __future__ import annotations

from pathlib import Path

import yaml

from repo_agent.runtime.task import Task, load_task_dir
from repo_agent.suites.validate import validate_task, validate_tasks

SOME = ["a_binary_search", "b_components", "c_roman_numerals", "d_kruskal_mst"]


def test_builtin_tasks_validate(task_by_id: dict[str, Task]) -> None:
    seen: list[str] = []
    results = validate_tasks(
        [task_by_id[i] for i in SOME], workers=2, on_done=lambda v: seen.append(v.task_id)
    )
    assert [v.task_id for v in results] == SOME  # task order, whatever the finishing order
    assert sorted(seen) == sorted(SOME)
    for v in results:
        assert v.ok and v.buggy_fails and v.fix_passes and v.problem is None, v
        assert v.duration_s > 0


def write_task(root: Path, buggy: str, fixed: str | None, expected: str = "calc.py") -> Task:
    task_dir = root / "t_broken"
    (task_dir / "repo" / "tests").mkdir(parents=True)
    spec = {
        "id": "t_broken",
        "goal": "Fix add().",
        "difficulty": "easy",
        "category": "math",
        "expected_files": [expected],
    }
    (task_dir / "task.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    (task_dir / "repo" / "calc.py").write_text(buggy, encoding="utf-8")
    (task_dir / "repo" / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n", encoding="utf-8"
    )
    if fixed is not None:
        (task_dir / "fix").mkdir()
        (task_dir / "fix" / expected).write_text(fixed, encoding="utf-8")
    return load_task_dir(task_dir)


GOOD = "def add(a, b):\n    return a + b\n"
BAD = "def add(a, b):\n    return a - b\n"


def test_a_buggy_version_that_passes_is_reported(tmp_path: Path) -> None:
    v = validate_task(write_task(tmp_path, buggy=GOOD, fixed=GOOD))
    assert not v.ok and not v.buggy_fails and v.fix_passes
    assert v.problem == "the buggy version passes its tests"


def test_a_fix_that_fails_is_reported(tmp_path: Path) -> None:
    v = validate_task(write_task(tmp_path, buggy=BAD, fixed="def add(a, b):\n    return a * b\n"))
    assert not v.ok and v.buggy_fails and v.fix_passes is False
    assert v.problem.startswith("the reference fix fails its tests:")


def test_a_task_without_fix(tmp_path: Path) -> None:
    v = validate_task(write_task(tmp_path, buggy=BAD, fixed=None))
    assert v.ok and v.buggy_fails and v.fix_passes is None


def test_expected_files_must_exist(tmp_path: Path) -> None:
    task = write_task(tmp_path, buggy=BAD, fixed=None, expected="missing.py")
    v = validate_task(task)
    assert not v.ok and v.problem == "expected_files not in repo: ['missing.py']"


def test_a_hanging_test_times_out(tmp_path: Path) -> None:
    task = write_task(
        tmp_path, buggy="import time\n\ndef add(a, b):\n    time.sleep(60)\n", fixed=GOOD
    )
    task.spec.timeout_s = 2.0
    v = validate_task(task)
    assert v.ok and v.buggy_fails and v.fix_passes  # a timeout counts as a failure
    assert v.duration_s < 20
