"""Renamed variants: names planned per seed and k, applied through `ast` to real builtin tasks
and a tiny task with the awkward cases, and generation end to end (real pytest subprocesses)."""

from __future__ import annotations

import ast
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from repo_agent.data.split import LeakError, check_no_leak, group_of
from repo_agent.runtime.task import Task, TaskFileError, load_task_dir, load_task_tree
from repo_agent.suites import renames
from repo_agent.suites.config import SuiteParams
from repo_agent.suites.loader import BUILTIN_DIR, configured_tasks, load_suite
from repo_agent.suites.renames import (
    ADJECTIVES,
    NOUNS,
    VERBS,
    RenamedTask,
    RenameError,
    ensure_renamed_suite,
    failure_signature,
    generate_renamed,
    rename_task,
    validate_variant,
    write_variant,
)
from repo_agent.suites.validate import validate_tasks

GENERATED = ["a_count_in_range", "b_task_scheduler_heap", "d_top_k_words"]
CHECKED = [*GENERATED, "a_merge_sort"]
# Old names that stay on purpose: English words in docstrings ("Binary-search bounds in the
# style of the bisect module" of bounds.py; "merge sort built on a merge helper").
ENGLISH = {"a_count_in_range": {"bounds"}, "a_merge_sort": {"merge"}}


def _copy_tasks(dest: Path, ids: list[str]) -> list[Task]:
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


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != renames.MANIFEST
    }


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Task]:
    return _copy_tasks(tmp_path_factory.mktemp("builtin"), CHECKED)


@pytest.fixture(scope="module")
def generated(
    sources: list[Task], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Task], Path, renames.GenerationReport]:
    tasks = [t for t in sources if t.id in GENERATED]
    out = tmp_path_factory.mktemp("renamed")
    return tasks, out, generate_renamed(tasks, out, per_program=2, seed=0)


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


def test_same_seed_writes_identical_bytes(sources: list[Task], tmp_path: Path) -> None:
    for task in sources:
        for k in (0, 1):
            write_variant(tmp_path / "a" / f"{task.id}__rn{k}", rename_task(task, 3, k))
            write_variant(tmp_path / "b" / f"{task.id}__rn{k}", rename_task(task, 3, k))
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")


def test_failure_signature_ignores_file_names() -> None:
    a = "FAILED tests/test_a.py::test_x - assert 1 == 2\n1 failed, 2 passed in 0.10s\n"
    b = "FAILED tests/test_b.py::test_x - assert 1 == 2\n1 failed, 2 passed in 0.30s\n"
    assert failure_signature(a) == failure_signature(b) == (("test_x",), "1 failed, 2 passed")
    assert failure_signature("ERROR tests/test_b.py\n1 error in 0.1s")[1] == "1 error"


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


def _tiny_task(root: Path) -> Task:
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
    variant = rename_task(_tiny_task(tmp_path), seed=0, k=0)
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


def test_tiny_task_variants_fail_and_pass_for_real(tmp_path: Path) -> None:
    task = _tiny_task(tmp_path / "src")
    report = generate_renamed([task], tmp_path / "out", per_program=2, seed=0, workers=1)
    [program] = report.programs
    assert program.kept == ["t_geometry__rn0", "t_geometry__rn1"], program
    results = validate_tasks(load_suite("renamed", tmp_path / "out"))
    assert all(v.buggy_fails and v.fix_passes for v in results), results


def test_a_broken_rename_is_rejected(sources: list[Task], tmp_path: Path) -> None:
    task = next(t for t in sources if t.id == "a_count_in_range")
    variant = rename_task(task, seed=0, k=0)
    original = renames._run(renames.task_sources(task)[0], task.spec.test_cmd, 30)
    assert validate_variant(variant, original) is None
    [helper] = variant.fix  # a module the tests import indirectly; without it they cannot run
    broken = {rel: text for rel, text in variant.files.items() if rel != helper}
    assert validate_variant(replace(variant, files=broken), original) == "fails_differently"
    fixed = replace(variant, files={**variant.files, **variant.fix})
    assert validate_variant(fixed, original) == "buggy_passes"


def test_tasks_without_a_fix_are_skipped_with_a_note(tmp_path: Path) -> None:
    task = _tiny_task(tmp_path)
    task.fix = None
    with pytest.raises(RenameError, match="no reference fix"):
        rename_task(task)
    report = generate_renamed([task], tmp_path / "out", per_program=1)
    assert report.programs[0].note == "t_geometry: no reference fix" and report.kept == 0


# --- generation, reuse, loading -----------------------------------------------------------------


def test_generated_builtin_variants_are_valid_tasks(
    generated: tuple[list[Task], Path, renames.GenerationReport],
) -> None:
    tasks, out, report = generated
    assert report.kept == 6 and all(not p.rejected and p.note is None for p in report.programs)
    manifest = json.loads((out / renames.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == renames.MANIFEST_FORMAT
    assert (manifest["seed"], manifest["per_program"], manifest["kept"]) == (0, 2, 6)
    assert {p["program"]: len(p["kept"]) for p in manifest["programs"]} == dict.fromkeys(
        GENERATED, 2
    )
    variants = load_suite("renamed", out)
    assert [t.suite for t in variants] == ["renamed"] * 6
    assert {group_of(t.id) for t in variants} == set(GENERATED)
    results = validate_tasks(variants)
    assert all(v.buggy_fails and v.fix_passes for v in results), results
    for variant in variants:  # what generation wrote is what rename_task gives
        origin = next(t for t in tasks if t.id == group_of(variant.id))
        k = int(variant.id.rsplit("__rn", 1)[1])
        again = rename_task(origin, 0, k)
        assert {r: p.read_text(encoding="utf-8") for r, p in variant.files.items()} == again.files
        assert variant.fix == again.fix and variant.spec == again.spec


def test_variants_of_a_held_out_program_count_as_a_leak(
    generated: tuple[list[Task], Path, renames.GenerationReport],
) -> None:
    _, out, _ = generated
    ids = {t.id for t in load_suite("renamed", out)}
    with pytest.raises(LeakError, match="held-out program"):
        check_no_leak({"d_top_k_words__rn1"}, {"d_top_k_words"})
    check_no_leak({i for i in ids if not i.startswith("d_")}, {"d_top_k_words"})


def test_ensure_reuses_matching_variants(
    generated: tuple[list[Task], Path, renames.GenerationReport],
) -> None:
    tasks, out, _ = generated
    stamp = (out / "a_count_in_range__rn0" / "task.yaml").stat().st_mtime_ns
    again = ensure_renamed_suite(out, tasks, per_program=2, seed=0)
    assert len(again) == 6
    assert (out / "a_count_in_range__rn0" / "task.yaml").stat().st_mtime_ns == stamp


def test_ensure_regenerates_when_params_change(tmp_path: Path) -> None:
    task = _tiny_task(tmp_path / "src")
    out = tmp_path / "out"
    ensure_renamed_suite(out, [task], 1, seed=0)
    first = _tree_bytes(out)
    assert [t.id for t in ensure_renamed_suite(out, [task], 1, seed=5)] == ["t_geometry__rn0"]
    assert _tree_bytes(out) != first
    ensure_renamed_suite(out, [task], 1, seed=0)
    assert _tree_bytes(out) == first  # same seed, same bytes


def test_generation_refuses_to_clobber(tmp_path: Path) -> None:
    task = _tiny_task(tmp_path / "src")
    out = tmp_path / "out"
    generate_renamed([task], out, per_program=1)
    with pytest.raises(RenameError, match="already holds tasks"):
        generate_renamed([task], out, per_program=1)
    shutil.copytree(tmp_path / "src" / "t_geometry", out / "t_geometry")
    with pytest.raises(RenameError, match="not a renamed variant"):
        generate_renamed([task], out, per_program=1, force=True)
    with pytest.raises(ValueError, match="at least 1"):
        generate_renamed([task], tmp_path / "other", per_program=0)


def test_configured_tasks_generates_into_the_renamed_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Path, int, int, int]] = []

    def fake(out_dir: Path, source: list[Task], per_program: int, seed: int) -> list[Task]:
        calls.append((out_dir, len(source), per_program, seed))
        return []

    monkeypatch.setattr(renames, "ensure_renamed_suite", fake)
    params = SuiteParams(names=["renamed"], renamed_per_program=3, renamed_seed=4)
    configured_tasks(params, tmp_path / "mutants")
    configured_tasks(params, tmp_path / "mutants", renamed_dir=tmp_path / "here")
    explicit = params.model_copy(update={"renamed_path": str(tmp_path / "there")})
    configured_tasks(explicit, tmp_path / "mutants", renamed_dir=tmp_path / "here")
    assert calls == [
        (tmp_path / "renamed", 44, 3, 4),
        (tmp_path / "here", 44, 3, 4),
        (tmp_path / "there", 44, 3, 4),
    ]


def test_configured_tasks_loads_generated_variants(
    generated: tuple[list[Task], Path, renames.GenerationReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks, out, _ = generated
    monkeypatch.setattr("repo_agent.suites.loader.load_suite", lambda name, *a: tasks)
    params = SuiteParams(names=["renamed"], renamed_path=str(out), max_tasks=2)
    picked = configured_tasks(params, out.parent / "mutants")
    assert [t.id for t in picked] == ["a_count_in_range__rn0", "a_count_in_range__rn1"]


def test_load_suite_needs_a_path() -> None:
    with pytest.raises(TaskFileError, match="renamed suite needs --path"):
        load_suite("renamed")


@pytest.mark.parametrize(
    "bad",
    [
        {"renamed_per_program": 0},
        {"renamed_per_program": -1},
        {"renamed_seed": "x"},
        {"renamed_sed": 1},
        {"names": ["renames"]},
    ],
)
def test_bad_params_are_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        SuiteParams(**bad)


def test_params_defaults() -> None:
    params = SuiteParams(names=["builtin", "renamed"])
    assert (params.renamed_per_program, params.renamed_seed, params.renamed_path) == (2, 0, None)


@pytest.mark.slow
def test_every_builtin_task_gives_valid_variants(tmp_path: Path) -> None:
    report = generate_renamed(load_suite("builtin"), tmp_path / "out", per_program=2, seed=0)
    assert len(report.programs) == 44
    short = {p.program: (dict(p.rejected), p.note) for p in report.programs if len(p.kept) < 2}
    assert not short, short
