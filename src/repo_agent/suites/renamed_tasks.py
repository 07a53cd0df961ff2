"""The renamed suite: `generate_renamed` keeps the variants (see `renames`) whose buggy version
fails like the original's and whose fix passes, as task dirs `<origin>__rn<k>` in the builtin
layout, with a manifest `renamed.json`; `ensure_renamed_suite` reuses them while it matches.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from repo_agent.runtime.task import Task
from repo_agent.runtime.testrun import TestOutcome, run_tests
from repo_agent.runtime.workspace import Workspace
from repo_agent.suites import generation
from repo_agent.suites.generation import Job, existing_tasks, tasks_digest
from repo_agent.suites.renames import RenamedTask, RenameError, rename_task, task_sources

MANIFEST = "renamed.json"
MANIFEST_FORMAT = "repo-agent.renamed/1"
SUITE = "renamed"
VARIANT_ID = re.compile(r"__rn(\d+)$")

_FAILED_TEST = re.compile(r"^(?:FAILED|ERROR) [^\s:]+::(\S+)", re.MULTILINE)
_SUMMARY = re.compile(r"^=*\s*(\d+ \w+(?:, \d+ \w+)*) in [\d.]+s", re.MULTILINE)


def failure_signature(output: str) -> tuple[tuple[str, ...], str]:
    """Which tests failed (file names aside, as those are renamed) and pytest's counts.

    >>> failure_signature("FAILED tests/test_a.py::test_x - assert 0\\n1 failed, 2 passed in 0.1s")
    (('test_x',), '1 failed, 2 passed')
    """
    summaries = _SUMMARY.findall(output)
    return tuple(sorted(_FAILED_TEST.findall(output))), summaries[-1] if summaries else ""


def _run(files: dict[str, str], test_cmd: str, timeout_s: float) -> TestOutcome:
    with Workspace.create({}, prefix="ra-rename-") as ws:
        for rel, text in files.items():
            ws.write_text(rel, text)
        return run_tests(ws.root, test_cmd, timeout_s)


@dataclass
class ProgramReport:
    """What happened to one source task."""

    program: str
    kept: list[str] = field(default_factory=list)  # task ids
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> count
    renames: dict[str, dict[str, str]] = field(default_factory=dict)  # kept id -> old -> new
    duration_s: float = 0.0
    note: str | None = None  # why the task gave no variants, if it was skipped


GenerationReport = generation.GenerationReport[ProgramReport]
OnProgress = generation.OnProgress[ProgramReport]


def _test(files: dict[str, str], test_cmd: str, timeout_s: float) -> Callable[[], TestOutcome]:
    return lambda: _run(files, test_cmd, timeout_s)


def variant_checks(variant: RenamedTask, original_failure: TestOutcome) -> Job[str | None]:
    """Why a variant is rejected, or None, as a job (`generation.run_jobs`) that yields its test
    runs: its buggy version must fail the way the original fails (same failing tests and
    counts, so not through a broken rename) and its fix pass."""
    spec = variant.spec
    buggy: TestOutcome = yield _test(variant.files, spec.test_cmd, spec.timeout_s)
    if buggy.passed:
        return "buggy_passes"
    same = original_failure.timed_out or (
        failure_signature(buggy.output) == failure_signature(original_failure.output)
    )
    if not same:
        return "fails_differently"
    fixed: TestOutcome = yield _test(
        {**variant.files, **variant.fix}, spec.test_cmd, spec.timeout_s
    )
    return None if fixed.passed else "fix_fails"


def write_variant(task_dir: Path, variant: RenamedTask) -> None:
    """Write a variant as a task directory: task.yaml, repo/ (buggy) and fix/."""
    if task_dir.exists():
        shutil.rmtree(task_dir)
    for sub, files in (("repo", variant.files), ("fix", variant.fix)):
        for rel, text in files.items():
            path = task_dir / sub / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    header = f"# renamed variant {variant.k} of {variant.origin} (names in {MANIFEST})\n"
    body = yaml.safe_dump(variant.spec.model_dump(), sort_keys=False, allow_unicode=True, width=100)
    (task_dir / "task.yaml").write_text(header + body, encoding="utf-8")


def rename_job(
    task: Task,
    out_dir: Path,
    per_program: int,
    seed: int,
    on_try: Callable[[ProgramReport], None] | None = None,
) -> Job[ProgramReport]:
    """Write the valid variants 0..`per_program`-1 of one task into `out_dir`; a job for
    `generation.run_jobs` that yields its test runs."""
    start = time.monotonic()
    report = ProgramReport(task.id)
    try:
        buggy, fixed = task_sources(task)
        original: TestOutcome = yield _test(buggy, task.spec.test_cmd, task.spec.timeout_s)
        if original.passed:
            report.note = "the original buggy version passes its tests; skipped"
            return report
        fixed_outcome: TestOutcome = yield _test(fixed, task.spec.test_cmd, task.spec.timeout_s)
        if not fixed_outcome.passed:
            report.note = "the original fix fails its tests; skipped"
            return report
        for k in range(per_program):
            variant = rename_task(task, seed, k)
            reason = yield from variant_checks(variant, original)
            if reason is None:
                write_variant(out_dir / variant.id, variant)
                report.kept.append(variant.id)
                report.renames[variant.id] = variant.renames
            else:
                report.rejected[reason] += 1
            if on_try is not None:
                on_try(report)
        return report
    except RenameError as exc:
        report.note = str(exc)
        return report
    finally:
        report.duration_s = round(time.monotonic() - start, 2)


def clear_variants(out_dir: Path) -> None:
    """Remove earlier variants and the manifest; refuse to touch any other task dir."""
    for task_dir in existing_tasks(out_dir):
        if not VARIANT_ID.search(task_dir.name):
            raise RenameError(f"{task_dir} is not a renamed variant; refusing to remove it")
        shutil.rmtree(task_dir)
    (out_dir / MANIFEST).unlink(missing_ok=True)


def generate_renamed(
    tasks: Sequence[Task],
    out_dir: Path,
    per_program: int = 2,
    seed: int = 0,
    workers: int = 2,
    on_progress: OnProgress | None = None,
    *,
    force: bool = False,
) -> GenerationReport:
    """Write up to `per_program` validated renamed variants of each task into `out_dir`, with
    the report in `out_dir/renamed.json`. Deterministic given `seed`; tasks run `workers` at a
    time and calls to `on_progress` are serialised."""
    if per_program < 1:
        raise ValueError(f"per_program must be at least 1, not {per_program}")

    def make_job(task: Task, on_try: Callable[[ProgramReport], None] | None) -> Job:
        return rename_job(task, out_dir, per_program, seed, on_try)

    return generation.generate_suite(
        tasks, make_job, out_dir, MANIFEST, _made_from(tasks, per_program, seed),
        workers=workers, force=force, clear=clear_variants, error=RenameError,
        on_progress=on_progress, count_rejected=True,
    )  # fmt: skip


def _made_from(tasks: Sequence[Task], per_program: int, seed: int) -> dict:
    return {
        "format": MANIFEST_FORMAT,
        "seed": seed,
        "per_program": per_program,
        "sources": tasks_digest(tasks),
    }


def ensure_renamed_suite(
    out_dir: Path, source_tasks: Sequence[Task], per_program: int = 2, seed: int = 0
) -> list[Task]:
    """The renamed variants in `out_dir`, generated from `source_tasks` first unless they are
    already there from the same tasks, `per_program` and `seed`."""
    return generation.ensure_suite(
        out_dir,
        MANIFEST,
        _made_from(source_tasks, per_program, seed),
        SUITE,
        lambda: generate_renamed(source_tasks, out_dir, per_program, seed, force=True),
    )
