"""Mutant tasks: plant AST-level bugs in correct code and keep those its tests catch.

Sources are read by `mutant_sources`; every kept mutant becomes a task directory in the builtin
layout (see `mutant_tasks`), loadable with `load_suite("mutants", out_dir)`. The run is
summarised in `out_dir/mutants.json`.
"""

from __future__ import annotations

import ast
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from repo_agent.runtime.task import Task
from repo_agent.runtime.testrun import TestOutcome, run_tests
from repo_agent.runtime.workspace import Workspace
from repo_agent.suites import generation
from repo_agent.suites.generation import Job
from repo_agent.suites.mutant_sources import (
    MutantError,
    SourceProgram,
    load_sources,
    programs_digest,
    programs_from_tasks,
)
from repo_agent.suites.mutant_tasks import clear_tasks, symptom_goal, task_dir_name, write_task
from repo_agent.suites.mutations import (
    OPERATORS,
    Mutation,
    apply_mutation,
    find_mutations,
    normalise,
)

MANIFEST = "mutants.json"
MANIFEST_FORMAT = "repo-agent.mutants/1"


@dataclass
class ProgramReport:
    """What happened to one source program."""

    program: str
    candidates: int = 0
    tried: int = 0
    kept: list[str] = field(default_factory=list)  # task ids
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> count
    duration_s: float = 0.0
    note: str | None = None  # why the program gave no mutants, if it was skipped


GenerationReport = generation.GenerationReport[ProgramReport]
OnProgress = generation.OnProgress[ProgramReport]


def candidate_order(mutations: list[Mutation], rng: random.Random) -> list[Mutation]:
    """Shuffle within each operator, then deal the operators round-robin (in shuffled order),
    so the first few tries cover many kinds of bug rather than the most common kind."""
    by_op: dict[str, list[Mutation]] = {}
    for m in mutations:
        by_op.setdefault(m.op, []).append(m)
    ops = [op for op in OPERATORS if op in by_op]
    rng.shuffle(ops)
    for op in ops:
        rng.shuffle(by_op[op])
    out = []
    for i in range(max((len(v) for v in by_op.values()), default=0)):
        out += [by_op[op][i] for op in ops if i < len(by_op[op])]
    return out


def mutant_job(
    prog: SourceProgram,
    out_dir: Path,
    max_keep: int,
    seed: int,
    timeout_s: float,
    max_tries: int,
    on_try: Callable[[ProgramReport], None] | None = None,
    ops: tuple[str, ...] = OPERATORS,
) -> Job[ProgramReport]:
    """A job (`generation.run_jobs`) that yields its test runs: try this program's mutants in
    seeded order until `max_keep` are kept or tries run out.

    Kept: it parses and compiles, differs from the original and every earlier candidate
    (normalised source), and its tests fail within the time limit: `timeout_s`, or 4 times
    the original's test time if that is shorter (a hang is rejected)."""
    start = time.monotonic()
    report = ProgramReport(prog.name)
    ws = Workspace.create(prog.files, prog.source_root, prefix="ra-mutant-")
    try:
        for rel, text in prog.overrides.items():
            ws.write_text(rel, text)
        trees: dict[str, ast.Module] = {}
        originals: dict[str, str] = {}
        for rel in prog.targets:
            try:
                trees[rel] = ast.parse(ws.read_text(rel))
            except (SyntaxError, ValueError):
                continue
            # The fix is the unparsed original, so the task's diff is the mutation alone.
            originals[rel] = ast.unparse(trees[rel]) + "\n"
            ws.write_text(rel, originals[rel])
        candidates = [(rel, m) for rel in originals for m in find_mutations(trees[rel], ops)]
        report.candidates = len(candidates)
        if not candidates:
            report.note = "nothing to mutate"
            return report

        def test(limit: float) -> Callable[[], TestOutcome]:
            return lambda: run_tests(ws.root, prog.test_cmd, limit)

        baseline: TestOutcome = yield test(max(timeout_s, prog.timeout_s))
        if not baseline.passed:
            report.note = "the original fails its tests; skipped"
            return report
        # A mutant that runs 4x longer than the original has hung; no need to wait longer.
        limit = min(timeout_s, max(2.0, 4 * baseline.duration_s))
        rng = random.Random(f"{seed}:{prog.name}")
        order = {id(m): rel for rel, m in candidates}
        seen = {normalise(text) for text in originals.values()}
        taken: set[str] = set()
        for m in candidate_order([m for _, m in candidates], rng):
            if len(report.kept) >= max_keep or report.tried >= max_tries:
                break
            rel = order[id(m)]
            tree, what = apply_mutation(trees[rel], m)
            try:
                text = ast.unparse(tree) + "\n"
                compile(text, rel, "exec")
            except (SyntaxError, ValueError, RecursionError):
                report.rejected["unparsable"] += 1
                continue
            norm = normalise(text)
            if norm in seen:
                report.rejected["duplicate"] += 1
                continue
            seen.add(norm)
            report.tried += 1
            ws.write_text(rel, text)
            outcome: TestOutcome = yield test(limit)
            if outcome.timed_out:
                report.rejected["timeout"] += 1
            elif outcome.passed:
                report.rejected["survived"] += 1
            else:
                task_dir = out_dir / task_dir_name(prog.name, m.op, taken)
                goal = symptom_goal(outcome.output, prog.test_cmd)
                write_task(task_dir, ws, prog, rel, originals[rel], m, what, goal)
                report.kept.append(task_dir.name)
            ws.write_text(rel, originals[rel])
            if on_try is not None:
                on_try(report)
        return report
    finally:
        ws.cleanup()
        report.duration_s = round(time.monotonic() - start, 2)


def generate_mutants(
    source: Path | Sequence[Task] | Sequence[SourceProgram],
    out_dir: Path,
    max_per_program: int = 3,
    seed: int = 0,
    timeout_s: float = 10.0,
    *,
    test_cmd: str | None = None,
    workers: int = 2,
    max_tries: int | None = None,
    force: bool = False,
    on_progress: OnProgress | None = None,
    ops: tuple[str, ...] = OPERATORS,
) -> GenerationReport:
    """Write up to `max_per_program` mutant tasks per source program into `out_dir`.

    `source` is a directory for `load_sources`, tasks, or programs already loaded. Deterministic
    given `seed` (each program's candidate order comes from it and programs are independent);
    programs run `workers` at a time, and calls to `on_progress` are serialised. `max_tries`
    caps test runs per program (default: 8 per wanted mutant). The report is also written to
    `out_dir/mutants.json`."""
    programs = _programs(source, test_cmd)
    tries = max_tries if max_tries is not None else max(8, 8 * max_per_program)

    def make_job(prog: SourceProgram, on_try: Callable[[ProgramReport], None] | None) -> Job:
        return mutant_job(prog, out_dir, max_per_program, seed, timeout_s, tries, on_try, ops)

    return generation.generate_suite(
        programs, make_job, out_dir, MANIFEST, _made_from(programs, max_per_program, seed),
        workers=workers, force=force, clear=clear_tasks, error=MutantError,
        on_progress=on_progress,
    )  # fmt: skip


def _made_from(programs: list[SourceProgram], max_per_program: int, seed: int) -> dict:
    return {
        "format": MANIFEST_FORMAT,
        "seed": seed,
        "max_per_program": max_per_program,
        "sources": programs_digest(programs),
    }


def _programs(
    source: Path | Sequence[Task] | Sequence[SourceProgram], test_cmd: str | None
) -> list[SourceProgram]:
    if isinstance(source, Path):
        programs = load_sources(source, test_cmd)
    else:
        programs = [p for p in source if isinstance(p, SourceProgram)]
        programs += programs_from_tasks([t for t in source if isinstance(t, Task)])
    if not programs:
        raise MutantError("no source programs with a reference version to mutate")
    return programs


def ensure_mutant_suite(
    out_dir: Path, source: Path, max_per_program: int = 3, seed: int = 0
) -> list[Task]:
    """The mutant tasks in `out_dir`, generated from `source` (e.g. the builtin suite) first
    unless they are there from the same sources, `max_per_program` and `seed`."""
    programs = _programs(source, None)
    return generation.ensure_suite(
        out_dir,
        MANIFEST,
        _made_from(programs, max_per_program, seed),
        "mutants",
        lambda: generate_mutants(programs, out_dir, max_per_program, seed, force=True),
    )
