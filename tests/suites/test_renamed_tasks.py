"""The renamed suite: variants validated by running their tests (real pytest subprocesses),
written with a manifest, reused while it matches, and loaded through the suite params."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError
from test_renames import CHECKED, GENERATED, copy_tasks, tiny_task

from repo_agent.data.split import LeakError, check_no_leak, group_of
from repo_agent.runtime.task import Task, TaskFileError
from repo_agent.suites import renamed_tasks
from repo_agent.suites.config import SuiteParams
from repo_agent.suites.generation import run_job
from repo_agent.suites.loader import configured_tasks, load_suite
from repo_agent.suites.renamed_tasks import (
    ensure_renamed_suite,
    failure_signature,
    generate_renamed,
    variant_checks,
    write_variant,
)
from repo_agent.suites.renames import RenameError, rename_task, task_sources
from repo_agent.suites.validate import validate_tasks


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != renamed_tasks.MANIFEST
    }


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Task]:
    return copy_tasks(tmp_path_factory.mktemp("builtin"), CHECKED)


@pytest.fixture(scope="module")
def generated(
    sources: list[Task], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Task], Path, renamed_tasks.GenerationReport]:
    tasks = [t for t in sources if t.id in GENERATED]
    out = tmp_path_factory.mktemp("renamed")
    return tasks, out, generate_renamed(tasks, out, per_program=2, seed=0)


# --- validating and writing variants ------------------------------------------------------------


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


def test_tiny_task_variants_fail_and_pass_for_real(tmp_path: Path) -> None:
    task = tiny_task(tmp_path / "src")
    report = generate_renamed([task], tmp_path / "out", per_program=2, seed=0, workers=1)
    [program] = report.programs
    assert program.kept == ["t_geometry__rn0", "t_geometry__rn1"], program
    results = validate_tasks(load_suite("renamed", tmp_path / "out"))
    assert all(v.buggy_fails and v.fix_passes for v in results), results


def test_a_broken_rename_is_rejected(sources: list[Task], tmp_path: Path) -> None:
    task = next(t for t in sources if t.id == "a_count_in_range")
    variant = rename_task(task, seed=0, k=0)
    original = renamed_tasks._run(task_sources(task)[0], task.spec.test_cmd, 30)
    assert run_job(variant_checks(variant, original)) is None
    [helper] = variant.fix  # a module the tests import indirectly; without it they cannot run
    broken = {rel: text for rel, text in variant.files.items() if rel != helper}
    assert run_job(variant_checks(replace(variant, files=broken), original)) == "fails_differently"
    fixed = replace(variant, files={**variant.files, **variant.fix})
    assert run_job(variant_checks(fixed, original)) == "buggy_passes"


def test_tasks_without_a_fix_are_skipped_with_a_note(tmp_path: Path) -> None:
    task = tiny_task(tmp_path)
    task.fix = None
    with pytest.raises(RenameError, match="no reference fix"):
        rename_task(task)
    report = generate_renamed([task], tmp_path / "out", per_program=1)
    assert report.programs[0].note == "t_geometry: no reference fix" and report.kept == 0


# --- generation, reuse, loading -----------------------------------------------------------------


def test_generated_builtin_variants_are_valid_tasks(
    generated: tuple[list[Task], Path, renamed_tasks.GenerationReport],
) -> None:
    tasks, out, report = generated
    assert report.kept == 6 and all(not p.rejected and p.note is None for p in report.programs)
    manifest = json.loads((out / renamed_tasks.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == renamed_tasks.MANIFEST_FORMAT
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
    generated: tuple[list[Task], Path, renamed_tasks.GenerationReport],
) -> None:
    _, out, _ = generated
    ids = {t.id for t in load_suite("renamed", out)}
    with pytest.raises(LeakError, match="held-out program"):
        check_no_leak({"d_top_k_words__rn1"}, {"d_top_k_words"})
    check_no_leak({i for i in ids if not i.startswith("d_")}, {"d_top_k_words"})


def test_ensure_reuses_matching_variants(
    generated: tuple[list[Task], Path, renamed_tasks.GenerationReport],
) -> None:
    tasks, out, _ = generated
    stamp = (out / "a_count_in_range__rn0" / "task.yaml").stat().st_mtime_ns
    again = ensure_renamed_suite(out, tasks, per_program=2, seed=0)
    assert len(again) == 6
    assert (out / "a_count_in_range__rn0" / "task.yaml").stat().st_mtime_ns == stamp


def test_ensure_regenerates_when_params_change(tmp_path: Path) -> None:
    task = tiny_task(tmp_path / "src")
    out = tmp_path / "out"
    ensure_renamed_suite(out, [task], 1, seed=0)
    first = _tree_bytes(out)
    assert [t.id for t in ensure_renamed_suite(out, [task], 1, seed=5)] == ["t_geometry__rn0"]
    assert _tree_bytes(out) != first
    ensure_renamed_suite(out, [task], 1, seed=0)
    assert _tree_bytes(out) == first  # same seed, same bytes


def test_generation_refuses_to_clobber(tmp_path: Path) -> None:
    task = tiny_task(tmp_path / "src")
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

    monkeypatch.setattr(renamed_tasks, "ensure_renamed_suite", fake)
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
    generated: tuple[list[Task], Path, renamed_tasks.GenerationReport],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tasks, out, _ = generated
    monkeypatch.setattr("repo_agent.suites.loader.load_suite", lambda name, *a: tasks)
    params = SuiteParams(
        names=["renamed"], renamed_path=str(out), renamed_per_program=2, max_tasks=2
    )
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


@pytest.mark.slow
def test_every_builtin_task_gives_valid_variants(tmp_path: Path) -> None:
    # workers=2, as the pipeline runs it: the AST rewrites are serialised by a lock (CPython
    # 3.11.7 raised "AST constructor recursion depth mismatch" with threads parsing at once).
    report = generate_renamed(
        load_suite("builtin"), tmp_path / "out", per_program=2, seed=0, workers=2
    )
    assert len(report.programs) == 44
    short = {p.program: (dict(p.rejected), p.note) for p in report.programs if len(p.kept) < 2}
    assert not short, short
