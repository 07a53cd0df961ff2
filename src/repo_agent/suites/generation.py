"""The skeleton both generated suites (mutants, renamed variants) share: each source program
gives variants, those its tests accept are kept as task dirs in `out_dir`, and a manifest
records the run and what it was made from, so `ensure_suite` can tell when it is stale.

A program's work is a `Job`: a generator that yields its test runs (callables that only run
subprocesses) and is sent their outcomes. Everything else, the AST work above all, runs on the
calling thread: CPython 3.11 corrupts AST construction in two threads at once ("SystemError:
AST constructor recursion depth mismatch"). Only the test runs of `workers` jobs overlap.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from repo_agent.runtime.task import Task, load_task_tree

T = TypeVar("T")
S = TypeVar("S")
Job = Generator[Callable[[], Any], Any, T]


class ProgramReport(Protocol):
    """What happened to one source program (each generator adds its own facts)."""

    program: str
    kept: list[str]  # task ids
    rejected: Counter[str]  # reason -> count
    duration_s: float


P = TypeVar("P", bound=ProgramReport)
# Called with a program's report after each variant's test runs (done=False) and once when
# the program is finished (done=True).
OnProgress = Callable[[P, bool], None]


def _program_dict(report: Any) -> dict:
    """A program's report (a dataclass) as written to the manifest, rejection reasons sorted."""
    return {**asdict(report), "rejected": dict(sorted(report.rejected.items()))}


def run_jobs(jobs: Sequence[Job[T]], workers: int) -> list[T]:
    """Run each job to its return value, `workers` at a time; only the calls they yield leave
    this thread. Results come in the order of `jobs`."""
    results: dict[int, T] = {}
    waiting = iter(enumerate(jobs))
    running: dict[Future[Any], tuple[int, Job[T]]] = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:

            def step(i: int, job: Job[T], future: Future[Any] | None) -> bool:
                """Resume `job` with its last call's outcome; False when it has finished."""
                try:
                    if future is None:
                        call = next(job)
                    elif (error := future.exception()) is not None:
                        call = job.throw(error)
                    else:
                        call = job.send(future.result())
                except StopIteration as stop:
                    results[i] = stop.value
                    return False
                running[pool.submit(call)] = (i, job)
                return True

            def start_next() -> None:
                for i, job in waiting:
                    if step(i, job, None):
                        return

            for _ in range(max(1, workers)):
                start_next()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    i, job = running.pop(future)
                    if not step(i, job, future):
                        start_next()
    finally:  # after a failure: let the unfinished jobs clean up (their test runs are over)
        for _, job in running.values():
            job.close()
    return [results[i] for i in range(len(jobs))]


def run_job(job: Job[T]) -> T:
    """Run one job on this thread alone."""
    return run_jobs([job], 1)[0]


def digest(parts: Iterable[bytes]) -> str:
    """A short hash of the byte strings that a generated suite is made from."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()[:16]


def tasks_digest(tasks: Sequence[Task]) -> str:
    """A digest of tasks (ids, specs, files, fixes): their variants go stale with it."""

    def parts() -> Iterable[bytes]:
        for t in sorted(tasks, key=lambda t: t.id):
            yield t.spec.model_dump_json().encode()
            for rel, path in sorted(t.files.items()):
                yield rel.encode() + b"\0" + path.read_bytes() + b"\0"
            for rel, text in sorted((t.fix or {}).items()):
                yield rel.encode() + b"\0" + text.encode() + b"\0"

    return digest(parts())


def existing_tasks(out_dir: Path) -> list[Path]:
    """The task directories already in `out_dir`, sorted."""
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.iterdir() if (p / "task.yaml").is_file())


@dataclass
class GenerationReport(Generic[P]):
    """A generation run, written as the suite's manifest: what it was made from, then per
    program what came of it."""

    out_dir: Path
    made_from: dict[str, Any]  # format, settings and source digest: what `ensure_suite` checks
    programs: list[P]
    duration_s: float
    count_rejected: bool = False  # the renamed manifest also totals the rejections

    @property
    def seed(self) -> int:
        return self.made_from["seed"]

    @property
    def kept(self) -> int:
        return sum(len(p.kept) for p in self.programs)

    def to_dict(self) -> dict:
        rejected = sum(sum(p.rejected.values()) for p in self.programs)
        return {
            **self.made_from,
            "kept": self.kept,
            **({"rejected": rejected} if self.count_rejected else {}),
            "duration_s": round(self.duration_s, 2),
            "programs": [_program_dict(p) for p in self.programs],
        }


def generate_suite(
    sources: Sequence[S],
    make_job: Callable[[S, Callable[[P], None] | None], Job[P]],
    out_dir: Path,
    manifest: str,
    made_from: dict[str, Any],
    *,
    workers: int,
    force: bool,
    clear: Callable[[Path], None],
    error: type[Exception],
    on_progress: OnProgress[P] | None = None,
    count_rejected: bool = False,
) -> GenerationReport[P]:
    """Run `make_job(source, on_try)` for each source into `out_dir` (empty, or cleared with
    `clear` when `force`), `workers` programs' test runs at a time, and write the manifest.
    Calls to `on_progress` come from this thread."""
    start = time.monotonic()
    if existing_tasks(out_dir):
        if not force:
            raise error(f"{out_dir} already holds tasks; choose an empty directory or force")
        clear(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    on_try = None if on_progress is None else (lambda r: on_progress(r, False))

    def job(source: S) -> Job[P]:
        report = yield from make_job(source, on_try)
        if on_progress is not None:
            on_progress(report, True)
        return report

    reports = run_jobs([job(s) for s in sources], workers)
    report = GenerationReport(out_dir, made_from, reports, time.monotonic() - start, count_rejected)
    (out_dir / manifest).write_text(json.dumps(report.to_dict(), indent=1) + "\n", "utf-8")
    return report


def ensure_suite(
    out_dir: Path,
    manifest: str,
    made_from: dict[str, Any],
    suite: str,
    generate: Callable[[], object],
) -> list[Task]:
    """The tasks in `out_dir`, generated first (`generate`) unless its manifest says they were
    made from `made_from`: the same format, settings and source digest."""
    path = out_dir / manifest
    meta = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if not existing_tasks(out_dir) or any(meta.get(k) != v for k, v in made_from.items()):
        generate()
    return load_task_tree(out_dir, suite)
