"""Renamed variants: names planned per seed and k, applied through `ast` to real builtin tasks
and a tiny task with the awkward cases."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from repo_agent.data.split import group_of
from repo_agent.runtime.task import Task, load_task_dir, load_task_tree
from repo_agent.suites.loader import BUILTIN_DIR
from repo_agent.suites.renames import ADJECTIVES, NOUNS, VERBS, RenamedTask, rename_task

# Builtin tasks renamed here; test_renamed_tasks also generates the GENERATED ones for real.
GENERATED = ["a_count_in_range", "b_task_scheduler_heap", "d_top_k_words"]
CHECKED = [*GENERATED, "a_merge_sort"]
# Old names that stay on purpose: English words in docstrings ("Binary-search bounds in the
# style of the bisect module" of bounds.py; "merge sort built on a merge helper").
ENGLISH = {"a_count_in_range": {"bounds"}, "a_merge_sort": {"merge"}}


def copy_tasks(dest: Path, ids: list[str]) -> list[Task]:
    for task_id in ids:
        shutil.copytree(BUILTIN_DIR / task_id, dest / task_id)
    return load_task_tree(dest, "builtin")


def _texts(variant: RenamedTask) -> dict[str, str]:
    fix = {f"fix/{rel}": text for rel, text in variant.fix.items()}
    return {"<goal>": variant.spec.goal, **variant.files, **fix}


def _old_names(variant: RenamedTask) -> set[str]:
    stems = {Path(r).stem for r in variant.renames if r.endswith(".py")}
    return {s for s in stems if not s.startswith("test_")} | {
        n for n in variant.renames if not n.endswith(".py")
    }


def _code_identifiers(text: str) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.alias):
            out.update(node.name.split("."))
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.update(node.module.split("."))
    return out


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Task]:
    return copy_tasks(tmp_path_factory.mktemp("builtin"), CHECKED)


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1])
@pytest.mark.parametrize("task_id", CHECKED)
def test_variants_keep_no_old_name(sources: list[Task], task_id: str, k: int) -> None:
    task = next(t for t in sources if t.id == task_id)
    variant = rename_task(task, seed=0, k=k)
    old = _old_names(variant)
    for rel in [*variant.files, *variant.spec.expected_files]:
        assert not set(Path(rel).with_suffix("").parts) & old, rel
    left: set[str] = set()
    for where, text in _texts(variant).items():
        if where.endswith(".py"):
            assert not _code_identifiers(text) & old, where
        for name in old:
            if re.search(rf"(?<![\w.]){name}(?=\(|\.py\b|`)|\bimport {name}\b", text):
                pytest.fail(f"{name} left as code in {where}")
            if re.search(rf"(?<!\w){name}(?!\w)", text):
                left.add(name)
    assert left == ENGLISH.get(task_id, set())
    assert all(name not in variant.spec.goal for name in old if "_" in name)


def test_goal_and_expected_files_follow_the_renames(sources: list[Task]) -> None:
    task = next(t for t in sources if t.id == "b_task_scheduler_heap")
    variant = rename_task(task, seed=0, k=0)
    heap, queue = variant.renames["minheap.py"], variant.renames["task_queue.py"]
    assert variant.spec.expected_files == [heap]
    assert variant.renames["tests/test_task_queue.py"] == f"tests/test_{queue}"
    assert variant.spec.goal.startswith(f"{variant.renames['TaskQueue']}.pop_next() sometimes")
    assert f"tests/test_{queue} fail" in variant.spec.goal
    assert f"from {Path(heap).stem} import" in variant.files[queue]
    assert variant.spec.id == "b_task_scheduler_heap__rn0"
    assert group_of(variant.spec.id) == task.id


def test_names_come_from_the_vocabulary_and_differ_by_k_and_seed(sources: list[Task]) -> None:
    task = next(t for t in sources if t.id == "a_count_in_range")
    first, second, reseeded = (rename_task(task, s, k) for s, k in [(0, 0), (0, 1), (1, 0)])
    assert rename_task(task, 0, 0) == first
    new = [set(v.renames.values()) for v in (first, second, reseeded)]
    assert not new[0] & new[1]  # variants of one task never share a name
    assert new[0] != new[2]
    words = {*ADJECTIVES, *NOUNS, *VERBS}
    for name in new[0]:
        stem = Path(name).stem.removeprefix("test_").removeprefix("is_")
        parts = re.findall(r"[A-Z][a-z]+|[a-z]+", stem)
        assert parts and all(p.lower() in words for p in parts), name


def test_vocabulary_avoids_every_builtin_name() -> None:
    used: set[str] = set()
    for py in BUILTIN_DIR.rglob("*.py"):
        used |= {py.stem} | _code_identifiers(py.read_text(encoding="utf-8"))
    words = {*ADJECTIVES, *NOUNS, *VERBS}
    assert not words & used, sorted(words & used)
    assert len(set(ADJECTIVES)) == len(ADJECTIVES) and not set(ADJECTIVES) & set(VERBS)


# --- a tiny task with the awkward cases --------------------------------------------------------

GEOMETRY = '''\
"""Helpers for geometry; see area() and geometry.scale."""
__all__ = ["area", "scale", "Box"]


def area(w, h):
    return w {op} h


def scale(box, factor):
    return Box(box.w * factor, box.h * factor)


class Box:
    def __init__(self, w, h):
        self.w, self.h = w, h

    def area(self):  # a method named like the function
        return area(self.w, self.h)
'''
REPORT = """\
import geometry
import geometry as geo
from geometry import Box, area as box_area

COUNTER = 0


def describe(box):
    area = box_area(box.w, box.h)  # a local named like the function
    return f"{area} from {geometry.area(box.w, box.h)} and {geo.scale(box, 1).area()}"


def total(boxes):
    def one(b):
        return geometry.area(b.w, b.h)

    return sum(one(b) for b in boxes)


def bump():
    global COUNTER
    COUNTER += 1
    return [describe for describe in ("shadowed",)][0]
"""
TEST = """\
from unittest import mock

import report
from geometry import Box


def test_describe():
    assert report.describe(Box(2, 3)) == "6 from 6 and 6"


def test_total():
    assert report.total([Box(1, 1), Box(2, 2)]) == 5


def test_patch_and_bump():
    with mock.patch("geometry.area", lambda w, h: 0):
        assert report.total([Box(1, 1)]) == 0
    assert report.bump() == "shadowed" and report.COUNTER == 1
"""
README = "`area()` lives in geometry.py (see tests/test_report.py); the area of a box.\n"


def tiny_task(root: Path) -> Task:
    task_dir = root / "t_geometry"
    for rel, text in {
        "repo/geometry.py": GEOMETRY.format(op="+"),
        "repo/report.py": REPORT,
        "repo/tests/test_report.py": TEST,
        "repo/README.md": README,
        "fix/geometry.py": GEOMETRY.format(op="*"),
        "task.yaml": (
            "id: t_geometry\ngoal: area() in geometry.py adds; tests in tests/test_report.py"
            " fail.\ndifficulty: easy\ncategory: demo\nexpected_files: [geometry.py]\n"
        ),
    }.items():
        (task_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (task_dir / rel).write_text(text, encoding="utf-8")
    return load_task_dir(task_dir)


def test_awkward_references_are_renamed_consistently(tmp_path: Path) -> None:
    variant = rename_task(tiny_task(tmp_path), seed=0, k=0)
    r = variant.renames
    geo_mod, rep_mod = Path(r["geometry.py"]).stem, Path(r["report.py"]).stem
    area, scale, box, describe = r["area"], r["scale"], r["Box"], r["describe"]
    assert r["tests/test_report.py"] == f"tests/test_{rep_mod}.py"
    geometry = variant.files[f"{geo_mod}.py"]
    assert f"__all__ = ['{area}', '{scale}', '{box}']" in geometry
    assert f"see {area}() and {geo_mod}.{scale}" in geometry  # docstring
    assert "    def area(self):" in geometry and f"return {area}(self.w, self.h)" in geometry
    report = variant.files[f"{rep_mod}.py"]
    assert f"import {geo_mod}\nimport {geo_mod} as geo\n" in report
    assert f"from {geo_mod} import {box}, {area} as box_area" in report
    assert "area = box_area(box.w, box.h)" in report and "{area} from" in report
    assert f"{geo_mod}.{area}(box.w, box.h)" in report and f"geo.{scale}(box, 1).area()" in report
    assert "global COUNTER" in report and f"def {describe}(box)" in report
    assert "[describe for describe in ('shadowed',)]" in report
    test = variant.files[f"tests/test_{rep_mod}.py"]
    assert f"mock.patch('{geo_mod}.{area}'" in test and f"{rep_mod}.{describe}(" in test
    assert variant.files["README.md"] == (
        f"`{area}()` lives in {geo_mod}.py (see tests/test_{rep_mod}.py); the area of a box.\n"
    )
    assert (
        variant.spec.goal
        == f"{area}() in {geo_mod}.py adds; tests in tests/test_{rep_mod}.py fail."
    )
