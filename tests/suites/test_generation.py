"""The generation skeleton: jobs run their own code on the calling thread and only the calls
they yield (test runs) on workers; the renamed generation survives two workers under stress."""

from __future__ import annotations

import ast
import gc
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from repo_agent.runtime.task import Task, load_task_dir
from repo_agent.suites.generation import Job, run_jobs, tasks_digest
from repo_agent.suites.mutants import generate_mutants
from repo_agent.suites.renamed_tasks import generate_renamed


def _job(name: str, steps: int, log: list[tuple[str, int]]) -> Job[str]:
    for k in range(steps):
        log.append((name, threading.get_ident()))
        got = yield lambda k=k: (k, threading.get_ident())
        assert got[0] == k
        log.append((f"{name}-call", got[1]))
    return name


def test_jobs_run_on_the_calling_thread_and_their_calls_on_workers() -> None:
    log: list[tuple[str, int]] = []
    jobs = [_job("a", 3, log), _job("b", 0, log), _job("c", 2, log)]
    assert run_jobs(jobs, workers=2) == ["a", "b", "c"]
    me = threading.get_ident()
    assert {t for name, t in log if not name.endswith("-call")} == {me}
    assert me not in {t for name, t in log if name.endswith("-call")}
    assert sorted(name for name, _ in log) == sorted(["a", "a-call"] * 3 + ["c", "c-call"] * 2)


def test_a_failed_call_is_raised_in_its_job_and_the_others_are_closed() -> None:
    closed: list[str] = []

    def failing() -> Job[None]:
        yield lambda: 1 / 0

    def waiting() -> Job[None]:
        try:
            yield lambda: threading.Event().wait(0.2)
            yield lambda: threading.Event().wait(5)
        finally:
            closed.append("waiting")

    with pytest.raises(ZeroDivisionError):
        run_jobs([waiting(), failing()], workers=2)
    assert closed == ["waiting"]


def test_tasks_digest_follows_the_files(tmp_path: Path) -> None:
    task = _big_task(tmp_path, "t0", 3)
    before = tasks_digest([task])
    assert tasks_digest([load_task_dir(tmp_path / "t0")]) == before
    (tmp_path / "t0" / "repo" / "t0.py").write_text("def total(a, b):\n    return a\n")
    assert tasks_digest([load_task_dir(tmp_path / "t0")]) != before


# --- the AST race -----------------------------------------------------------------------------


def _big_task(root: Path, name: str, statements: int) -> Task:
    """A task whose module takes a while to parse and whose test run is quick (`grep`), so
    the AST work of two programs would overlap if it ran on two threads."""
    stmts = "".join(f"    y = [x + {j} for _ in range(2)]\n" for j in range(statements))
    body = "".join(f"def f{i}(x):\n{stmts}    return y\n\n\n" for i in range(3))
    spec = (
        f"id: {name}\ngoal: total() in {name}.py subtracts.\ndifficulty: easy\ncategory: demo\n"
        f'expected_files: [{name}.py]\ntest_cmd: grep -q "a + b" {name}.py\n'
    )
    files = {
        f"repo/{name}.py": body + "def total(a, b):\n    return a - b\n",
        f"repo/test_{name}.py": f"from {name} import total\n\nassert total(2, 3) == 5\n",
        f"fix/{name}.py": body + "def total(a, b):\n    return a + b\n",
        "task.yaml": spec,
    }
    for rel, text in files.items():
        (root / name / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / name / rel).write_text(text, encoding="utf-8")
    return load_task_dir(root / name)


@pytest.fixture
def ast_switches() -> Iterator[None]:
    """Run Python code at every garbage collection, as finalizers do in a real process: a
    thread switch can then fall inside AST construction, where CPython 3.11 keeps its depth
    count per interpreter, so two threads building ASTs at once raise "SystemError: AST
    constructor recursion depth mismatch" in nearly every run (measured on the old code)."""
    threshold = gc.get_threshold()

    def callback(phase: str, info: dict[str, Any]) -> None:
        pass

    gc.set_threshold(100)
    gc.callbacks.append(callback)
    try:
        yield
    finally:
        gc.callbacks.remove(callback)
        gc.set_threshold(*threshold)


def test_renamed_generation_with_two_workers_never_crashes(
    tmp_path: Path, ast_switches: None
) -> None:
    tasks = [_big_task(tmp_path / "src", f"big{i}", 30) for i in range(4)]
    for run in range(30):  # the old code crashed in 24 of 30 runs like these
        report = generate_renamed(tasks, tmp_path / f"out{run}", per_program=2, seed=run, workers=2)
        assert report.kept == 8, [p.note or p.rejected for p in report.programs]


@pytest.mark.parametrize("generator", ["mutants", "renamed"])
def test_generation_builds_asts_on_the_calling_thread_only(tmp_path: Path, generator: str) -> None:
    tasks = [_big_task(tmp_path / "src", f"big{i}", 3) for i in range(3)]
    parsed_on: set[int] = set()

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code is ast.parse.__code__:
            parsed_on.add(threading.get_ident())

    threading.setprofile(profile)  # type: ignore[arg-type]
    sys.setprofile(profile)  # type: ignore[arg-type]
    try:
        if generator == "mutants":
            report = generate_mutants(tasks, tmp_path / "out", 1, 0, workers=2)
        else:
            report = generate_renamed(tasks, tmp_path / "out", per_program=2, seed=0, workers=2)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    assert report.kept >= (1 if generator == "mutants" else 6)
    assert parsed_on == {threading.get_ident()}
