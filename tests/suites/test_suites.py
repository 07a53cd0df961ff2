"""Task suites: the shipped builtin suite, and clear errors for malformed task files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from repo_agent.runtime.task import (
    DEFAULT_TEST_CMD,
    Task,
    TaskFileError,
    load_task_dir,
    load_task_tree,
)
from repo_agent.suites.loader import BUILTIN_DIR, load_suite, select_tasks

CATEGORIES = {
    "sorting", "searching", "graphs", "dynamic_programming", "math", "strings", "data_structures",
}  # fmt: skip


def imported_modules(source: str) -> set[str]:
    """Top-level module names a test file imports (`from a.b import c` gives `a.b`)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def module_name(rel: str) -> str:
    return rel.removesuffix(".py").replace("/", ".")


def test_builtin_suite_size_and_ids(builtin_tasks: list[Task]) -> None:
    assert len(builtin_tasks) >= 40
    ids = [t.id for t in builtin_tasks]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert ids == sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / "task.yaml").is_file())


def test_every_builtin_task_is_well_formed(builtin_tasks: list[Task]) -> None:
    for t in builtin_tasks:
        where = t.id
        assert t.suite == "builtin" and t.source_root is None, where
        assert t.spec.goal.strip() and t.spec.difficulty in {"easy", "medium", "hard"}, where
        assert t.spec.category in CATEGORIES, where
        assert t.spec.test_cmd == DEFAULT_TEST_CMD and t.spec.timeout_s > 0, where
        assert t.metadata.expected_files == t.spec.expected_files, where
        tests = [p for p in t.files if p.startswith("tests/test_") and p.endswith(".py")]
        assert tests, where
        assert all(src.is_file() for src in t.files.values()), where
        assert not any("__pycache__" in p for p in t.files), where
        assert t.fix is not None and sorted(t.fix) == sorted(t.spec.expected_files), where
        for rel, fixed in t.fix.items():
            assert rel in t.files, where
            original = t.original_text(rel)
            assert original and fixed != original, where
            compile(fixed, f"{t.id}/fix/{rel}", "exec")
            compile(original, f"{t.id}/repo/{rel}", "exec")
        assert t.original_text("no/such/file.py") is None


def test_builtin_suite_covers_categories_and_difficulties(builtin_tasks: list[Task]) -> None:
    assert {t.spec.category for t in builtin_tasks} == CATEGORIES
    assert {t.spec.difficulty for t in builtin_tasks} == {"easy", "medium", "hard"}


def test_some_fixes_lie_outside_the_module_the_tests_import(builtin_tasks: list[Task]) -> None:
    indirect = []
    for t in builtin_tasks:
        imports: set[str] = set()
        for rel, src in t.files.items():
            if rel.startswith("tests/test_"):
                imports |= imported_modules(src.read_text(encoding="utf-8"))
        expected = {module_name(f) for f in t.spec.expected_files}
        if not expected & imports:
            indirect.append(t.id)
    assert len(indirect) >= 5, indirect
    assert {"a_count_in_range", "b_components", "d_kruskal_mst"} <= set(indirect)


def test_imported_modules_helper() -> None:
    src = "import pytest\nfrom a.b import c\nfrom . import rel\nimport x.y as z\n"
    assert imported_modules(src) == {"pytest", "a.b", "x.y"}


# --- malformed task files ----------------------------------------------------------------------

GOOD = {
    "format": 1,
    "id": "t_demo",
    "goal": "Fix add().",
    "difficulty": "easy",
    "category": "math",
    "expected_files": ["calc.py"],
}


def write_task(
    root: Path, spec: dict | str | None = None, fix: bool = True, repo: bool = True
) -> Path:
    task_dir = root / "t_demo"
    task_dir.mkdir(parents=True)
    if spec is not None:
        text = spec if isinstance(spec, str) else yaml.safe_dump(spec)
        (task_dir / "task.yaml").write_text(text, encoding="utf-8")
    if repo:
        (task_dir / "repo" / "tests").mkdir(parents=True)
        (task_dir / "repo" / "calc.py").write_text(
            "def add(a, b):\n    return a - b\n", encoding="utf-8"
        )
        (task_dir / "repo" / "tests" / "test_calc.py").write_text(
            "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
            encoding="utf-8",
        )
        pycache = task_dir / "repo" / "__pycache__"
        pycache.mkdir()
        (pycache / "calc.cpython-311.pyc").write_bytes(b"\x00")
    if fix:
        (task_dir / "fix").mkdir()
        (task_dir / "fix" / "calc.py").write_text(
            "def add(a, b):\n    return a + b\n", encoding="utf-8"
        )
    return task_dir


def test_a_good_task_loads(tmp_path: Path) -> None:
    task = load_task_dir(write_task(tmp_path, GOOD))
    assert task.id == "t_demo"
    assert sorted(task.files) == ["calc.py", "tests/test_calc.py"]  # no __pycache__
    assert task.fix == {"calc.py": "def add(a, b):\n    return a + b\n"}
    assert task.spec.test_cmd == DEFAULT_TEST_CMD


def test_a_task_without_fix_loads(tmp_path: Path) -> None:
    assert load_task_dir(write_task(tmp_path, GOOD, fix=False)).fix is None


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({**GOOD, "hint": "look at add"}, ["hint", "Extra inputs are not permitted"]),
        ({k: v for k, v in GOOD.items() if k != "goal"}, ["goal", "Field required"]),
        ({**GOOD, "goal": ""}, ["goal"]),
        ({**GOOD, "difficulty": "trivial"}, ["difficulty", "'easy', 'medium' or 'hard'"]),
        ({**GOOD, "expected_files": []}, ["expected_files"]),
        ({**GOOD, "expected_files": "calc.py"}, ["expected_files"]),
        ({**GOOD, "format": 2}, ["format"]),
        ({**GOOD, "id": "t demo!"}, ["id"]),
        ({**GOOD, "timeout_s": "soon"}, ["timeout_s"]),
        ("id: [unclosed\n", ["while parsing"]),
        ("just a string\n", ["TaskSpec"]),
    ],
)
def test_malformed_task_yaml_names_file_and_key(
    tmp_path: Path, spec: dict | str, words: list[str]
) -> None:
    task_dir = write_task(tmp_path, spec)
    with pytest.raises(TaskFileError) as info:
        load_task_dir(task_dir)
    message = str(info.value)
    assert str(task_dir / "task.yaml") in message
    for word in words:
        assert word in message, message


def test_id_must_match_directory(tmp_path: Path) -> None:
    task_dir = write_task(tmp_path, {**GOOD, "id": "other"})
    with pytest.raises(TaskFileError, match="id 'other' differs from directory 't_demo'"):
        load_task_dir(task_dir)


def test_fix_must_match_expected_files(tmp_path: Path) -> None:
    task_dir = write_task(tmp_path, {**GOOD, "expected_files": ["calc.py", "other.py"]})
    with pytest.raises(TaskFileError, match=r"expected_files \['calc.py', 'other.py'\] differ"):
        load_task_dir(task_dir)


def test_missing_task_yaml_and_repo(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match="missing task.yaml"):
        load_task_dir(write_task(tmp_path / "a", None))
    with pytest.raises(TaskFileError, match="missing repo/ directory"):
        load_task_dir(write_task(tmp_path / "b", GOOD, repo=False))


def test_load_task_tree_and_suites(tmp_path: Path) -> None:
    write_task(tmp_path, GOOD)
    (tmp_path / "not_a_task").mkdir()
    [task] = load_task_tree(tmp_path, "mutants")
    assert task.suite == "mutants"
    assert [t.id for t in load_suite("mutants", tmp_path)] == ["t_demo"]
    assert [t.id for t in load_suite("builtin", tmp_path)] == ["t_demo"]
    with pytest.raises(TaskFileError, match="not a directory"):
        load_task_tree(tmp_path / "missing", "mutants")


@pytest.mark.parametrize(
    ("name", "path", "message"),
    [
        ("nope", None, "unknown suite 'nope'"),
        ("quixbugs", None, "needs --path"),
        ("mutants", None, "needs --path"),
    ],
)
def test_load_suite_errors(name: str, path: Path | None, message: str) -> None:
    with pytest.raises(TaskFileError, match=message):
        load_suite(name, path)


def test_select_tasks(builtin_tasks: list[Task]) -> None:
    assert select_tasks(builtin_tasks, None) == builtin_tasks
    assert select_tasks(builtin_tasks, []) == builtin_tasks
    picked = select_tasks(builtin_tasks, ["b_dijkstra", "a_binary_search"])
    assert [t.id for t in picked] == ["b_dijkstra", "a_binary_search"]
    with pytest.raises(TaskFileError, match="unknown task id\\(s\\): nope, zilch"):
        select_tasks(builtin_tasks, ["a_binary_search", "nope", "zilch"])
