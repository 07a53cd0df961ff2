"""Mutant tasks: plant AST-level bugs in correct code and keep those its tests catch.

Sources of correct code with passing tests: a tree of task directories (each task with its
reference fix applied, e.g. the builtin suite), a QuixBugs checkout (its correct programs), or
any repository plus a test command. Every kept mutant becomes a task directory in the builtin
layout (`task.yaml`, `repo/` = the mutated repository, `fix/` = the original file), loadable
with `load_suite("mutants", out_dir)`.
"""

from __future__ import annotations

import ast
import json
import random
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from repo_agent.runtime.task import DEFAULT_TEST_CMD, Task, TaskSpec, load_task_tree
from repo_agent.runtime.testrun import run_tests
from repo_agent.runtime.workspace import Workspace, _ignore
from repo_agent.suites.loader import BUILTIN_DIR
from repo_agent.suites.mutations import (
    OPERATORS,
    Mutation,
    apply_mutation,
    find_mutations,
    normalise,
)

MANIFEST = "mutants.json"
MANIFEST_FORMAT = "repo-agent.mutants/1"
CATEGORY_PREFIX = "mutant_"


class MutantError(Exception):
    """Mutants cannot be generated from this source (the message says why)."""


@dataclass
class SourceProgram:
    """Correct code with passing tests: the files of a repository and the file(s) to mutate."""

    name: str
    files: dict[str, Path]  # workspace-relative path -> file (copied over source_root)
    overrides: dict[str, str]  # workspace-relative path -> text (a task's reference fix)
    targets: list[str]  # files to mutate
    test_cmd: str
    timeout_s: float  # written to each generated task
    difficulty: str = "medium"
    source_root: Path | None = None


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


@dataclass
class GenerationReport:
    out_dir: Path
    seed: int
    max_per_program: int
    programs: list[ProgramReport]
    duration_s: float

    @property
    def kept(self) -> int:
        return sum(len(p.kept) for p in self.programs)

    def to_dict(self) -> dict:
        return {
            "format": MANIFEST_FORMAT,
            "seed": self.seed,
            "max_per_program": self.max_per_program,
            "kept": self.kept,
            "duration_s": round(self.duration_s, 2),
            "programs": [
                {**asdict(p), "rejected": dict(sorted(p.rejected.items()))} for p in self.programs
            ],
        }


# --- sources --------------------------------------------------------------------------------


def programs_from_tasks(tasks: list[Task]) -> list[SourceProgram]:
    """Each task with its reference fix applied; the fixed files are the ones mutated."""
    out = []
    for t in tasks:
        if not t.fix:
            continue
        out.append(
            SourceProgram(
                name=t.id,
                files=dict(t.files),
                overrides=dict(t.fix),
                targets=sorted(r for r in t.fix if r.endswith(".py")),
                test_cmd=t.spec.test_cmd,
                timeout_s=t.spec.timeout_s,
                difficulty=t.spec.difficulty,
                source_root=t.source_root,
            )
        )
    return out


def _is_test_file(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return (
        any(p in {"tests", "test", "testing"} for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name in {"conftest.py", "setup.py", "noxfile.py"}
    )


def programs_from_repo(root: Path, test_cmd: str, timeout_s: float = 60.0) -> list[SourceProgram]:
    """One program per non-test Python file of a repository whose tests pass."""
    root = root.resolve()
    ws = Workspace.create({}, root, prefix="ra-mutant-check-")
    try:
        outcome = run_tests(ws.root, test_cmd, timeout_s)
        files = [f for f in ws.list_files(".", 20_000) if f.endswith(".py")]
    finally:
        ws.cleanup()
    if not outcome.passed:
        tail = "\n".join(outcome.output.strip().splitlines()[-5:])
        raise MutantError(f"{root}: the tests must pass before mutating (`{test_cmd}`):\n{tail}")
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", root.name) or "repo"
    return [
        SourceProgram(
            name=f"{slug}_{re.sub(r'[^A-Za-z0-9_]', '_', rel.removesuffix('.py'))}",
            files={},
            overrides={},
            targets=[rel],
            test_cmd=test_cmd,
            timeout_s=timeout_s,
            source_root=root,
        )
        for rel in files
        if not _is_test_file(rel)
    ]


def load_sources(
    source: Path, test_cmd: str | None = None, timeout_s: float = 60.0
) -> list[SourceProgram]:
    """Find out what `source` is (task tree, QuixBugs checkout, plain repo) and read it."""
    if not source.is_dir():
        raise MutantError(f"{source}: not a directory")
    if any((p / "task.yaml").is_file() for p in source.iterdir()):
        return programs_from_tasks(load_task_tree(source, "source"))
    if (source / "correct_python_programs").is_dir():
        from repo_agent.suites.quixbugs import load_quixbugs

        return programs_from_tasks(load_quixbugs(source))
    return programs_from_repo(source, test_cmd or DEFAULT_TEST_CMD, timeout_s)


# --- generation -----------------------------------------------------------------------------


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


_FAILED = re.compile(r"^(?:FAILED|ERROR) ([^\s:]+)(?:::(\S+))?", re.MULTILINE)
_ERROR_LINE = re.compile(r"^E\s+(\S.*)$", re.MULTILINE)


def symptom_goal(test_output: str, test_cmd: str) -> str:
    """A goal that describes what fails (test file, test, first error), not where the bug is.

    >>> symptom_goal("E   assert -1 == 0\\nFAILED tests/test_b.py::test_one - assert -1 == 0", "")
    'test_one in tests/test_b.py fails (assert -1 == 0). Find the bug in the code under test and fix it so the tests in tests/test_b.py pass.'
    """  # noqa: E501
    failed = _FAILED.search(test_output)
    if failed is None:
        return f"The tests fail (`{test_cmd}`). Find the bug and fix it so the tests pass."
    test_file, test_name = failed.group(1), failed.group(2)
    error = _ERROR_LINE.search(test_output)
    detail = ""
    if error:
        text = " ".join(error.group(1).split())
        detail = f" ({text[:100] + '…' if len(text) > 100 else text})"
    who = f"{test_name.split('[')[0]} in {test_file}" if test_name else f"{test_file}"
    return (
        f"{who} fails{detail}. Find the bug in the code under test and fix it so the tests "
        f"in {test_file} pass."
    )


def _task_dir_name(program: str, op: str, taken: set[str]) -> str:
    base = f"{program}__{op}"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _write_task(
    task_dir: Path, ws: Workspace, prog: SourceProgram, rel: str, original: str,
    mutation: Mutation, what: str, goal: str,
) -> None:  # fmt: skip
    if task_dir.exists():
        shutil.rmtree(task_dir)
    shutil.copytree(ws.root, task_dir / "repo", ignore=_ignore)
    fix = task_dir / "fix" / rel
    fix.parent.mkdir(parents=True, exist_ok=True)
    fix.write_text(original, encoding="utf-8")
    spec = TaskSpec(
        id=task_dir.name,
        goal=goal,
        difficulty=prog.difficulty,
        category=CATEGORY_PREFIX + mutation.op,
        expected_files=[rel],
        test_cmd=prog.test_cmd,
        timeout_s=prog.timeout_s,
    )
    where = f"{rel}, {mutation.function}()" if mutation.function else rel
    header = f"# mutant of {prog.name} ({where}): {what}\n".replace("\n", " ").rstrip() + "\n"
    body = yaml.safe_dump(spec.model_dump(), sort_keys=False, allow_unicode=True, width=100)
    (task_dir / "task.yaml").write_text(header + body, encoding="utf-8")


def mutate_program(
    prog: SourceProgram,
    out_dir: Path,
    max_keep: int,
    seed: int,
    timeout_s: float,
    max_tries: int,
    on_try: Callable[[ProgramReport], None] | None = None,
    ops: tuple[str, ...] = OPERATORS,
) -> ProgramReport:
    """Try this program's mutants in seeded order until `max_keep` are kept or tries run out.

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
        baseline = run_tests(ws.root, prog.test_cmd, max(timeout_s, prog.timeout_s))
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
            outcome = run_tests(ws.root, prog.test_cmd, limit)
            if outcome.timed_out:
                report.rejected["timeout"] += 1
            elif outcome.passed:
                report.rejected["survived"] += 1
            else:
                task_dir = out_dir / _task_dir_name(prog.name, m.op, taken)
                goal = symptom_goal(outcome.output, prog.test_cmd)
                _write_task(task_dir, ws, prog, rel, originals[rel], m, what, goal)
                report.kept.append(task_dir.name)
            ws.write_text(rel, originals[rel])
            if on_try is not None:
                on_try(report)
        return report
    finally:
        ws.cleanup()
        report.duration_s = round(time.monotonic() - start, 2)


def _existing_tasks(out_dir: Path) -> list[Path]:
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.iterdir() if (p / "task.yaml").is_file())


def _clear(out_dir: Path) -> None:
    """Remove earlier generated task dirs; refuse to touch anything that is not a mutant."""
    for task_dir in _existing_tasks(out_dir):
        raw = yaml.safe_load((task_dir / "task.yaml").read_text(encoding="utf-8")) or {}
        if not str(raw.get("category", "")).startswith(CATEGORY_PREFIX):
            raise MutantError(f"{task_dir} is not a generated mutant task; refusing to remove it")
        shutil.rmtree(task_dir)


def generate_mutants(
    tasks_or_source: list[Task] | Path,
    out_dir: Path,
    max_per_program: int = 3,
    seed: int = 0,
    timeout_s: float = 10.0,
    *,
    test_cmd: str | None = None,
    workers: int = 2,
    max_tries: int | None = None,
    force: bool = False,
    progress: bool = False,
    ops: tuple[str, ...] = OPERATORS,
) -> GenerationReport:
    """Write up to `max_per_program` mutant tasks per source program into `out_dir`.

    Deterministic given `seed` (each program's candidate order comes from it and programs are
    independent); programs run `workers` at a time. `max_tries` caps test runs per program
    (default: 8 per wanted mutant). The report is also written to `out_dir/mutants.json`."""
    start = time.monotonic()
    if isinstance(tasks_or_source, Path):
        programs = load_sources(tasks_or_source, test_cmd)
    else:
        programs = programs_from_tasks(tasks_or_source)
    if not programs:
        raise MutantError("no source programs with a reference version to mutate")
    if _existing_tasks(out_dir):
        if not force:
            raise MutantError(f"{out_dir} already holds tasks; choose an empty directory or force")
        _clear(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tries = max_tries if max_tries is not None else max(8, 8 * max_per_program)
    lock = threading.Lock()

    def work(prog: SourceProgram, on_try: Callable[[ProgramReport], None] | None):
        return mutate_program(prog, out_dir, max_per_program, seed, timeout_s, tries, on_try, ops)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        if progress:
            reports = _run_with_progress(pool, programs, work, lock)
        else:
            reports = list(pool.map(lambda p: work(p, None), programs))
    report = GenerationReport(out_dir, seed, max_per_program, reports, time.monotonic() - start)
    (out_dir / MANIFEST).write_text(json.dumps(report.to_dict(), indent=1) + "\n", "utf-8")
    return report


def _run_with_progress(pool, programs, work, lock) -> list[ProgramReport]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    kept = Counter()
    with Progress(
        TextColumn("[bold]mutants"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    ) as bar:  # fmt: skip
        job = bar.add_task("mutants", total=len(programs), info="")

        def on_try(r: ProgramReport) -> None:
            with lock:
                kept[r.program] = len(r.kept)
                bar.update(job, info=f"{sum(kept.values())} kept · {r.program}")

        def run(prog: SourceProgram) -> ProgramReport:
            r = work(prog, on_try)
            with lock:
                kept[r.program] = len(r.kept)
                bar.update(job, advance=1, info=f"{sum(kept.values())} kept · {r.program}")
            return r

        return list(pool.map(run, programs))


def ensure_mutant_suite(
    out_dir: Path,
    max_per_program: int = 3,
    seed: int = 0,
    progress: bool = False,
    source: Path = BUILTIN_DIR,
) -> list[Task]:
    """The mutant tasks in `out_dir`, generated from `source` (the builtin suite) first unless
    they are already there with the same `max_per_program` and `seed`."""
    manifest = out_dir / MANIFEST
    if _existing_tasks(out_dir) and manifest.is_file():
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        if (meta.get("seed"), meta.get("max_per_program")) == (seed, max_per_program):
            return load_task_tree(out_dir, "mutants")
    generate_mutants(source, out_dir, max_per_program, seed, force=True, progress=progress)
    return load_task_tree(out_dir, "mutants")


def report_table(report: GenerationReport):
    """A rich table: per program, candidates, tries, kept and rejection reasons."""
    from rich.table import Table

    table = Table(title=f"mutants in {report.out_dir} (seed {report.seed})")
    for col in ("program", "candidates", "tried", "kept", "survived", "timeout", "dup", "s"):
        table.add_column(col, justify="left" if col == "program" else "right")
    for p in report.programs:
        table.add_row(
            p.program + (f" [dim]({p.note})[/dim]" if p.note else ""), str(p.candidates),
            str(p.tried), str(len(p.kept)), str(p.rejected["survived"]),
            str(p.rejected["timeout"]), str(p.rejected["duplicate"]), f"{p.duration_s:.1f}",
        )  # fmt: skip
    table.add_section()
    n = len(report.programs)
    table.add_row(
        f"TOTAL ({n} programs)", str(sum(p.candidates for p in report.programs)),
        str(sum(p.tried for p in report.programs)), str(report.kept),
        str(sum(p.rejected["survived"] for p in report.programs)),
        str(sum(p.rejected["timeout"] for p in report.programs)),
        str(sum(p.rejected["duplicate"] for p in report.programs)), f"{report.duration_s:.1f}",
    )  # fmt: skip
    return table
