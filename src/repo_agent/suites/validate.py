"""Prove that each task is a real bug: its buggy version fails the tests, its fix passes."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from repo_agent.runtime.task import Task
from repo_agent.runtime.testrun import run_tests
from repo_agent.runtime.workspace import Workspace


@dataclass(frozen=True)
class Validation:
    task_id: str
    buggy_fails: bool
    fix_passes: bool | None  # None: the task has no reference fix
    problem: str | None
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.problem is None


def validate_task(task: Task) -> Validation:
    """Run the tests on the buggy copy, then on the copy with the reference fix applied."""
    with Workspace.create(task.files, task.source_root, prefix="ra-validate-") as ws:
        missing = [f for f in task.spec.expected_files if not ws.resolve(f).is_file()]
        if missing:
            return Validation(task.id, False, None, f"expected_files not in repo: {missing}", 0.0)
        buggy = run_tests(ws.root, task.spec.test_cmd, task.spec.timeout_s)
        duration = buggy.duration_s
        problem = None
        if buggy.passed:
            problem = "the buggy version passes its tests"
        fix_passes = None
        if task.fix is not None:
            for rel, content in task.fix.items():
                ws.write_text(rel, content)
            fixed = run_tests(ws.root, task.spec.test_cmd, task.spec.timeout_s)
            duration += fixed.duration_s
            fix_passes = fixed.passed
            if not fixed.passed and problem is None:
                tail = fixed.output.strip().splitlines()[-1:] or [""]
                problem = f"the reference fix fails its tests: {tail[0]}"
        return Validation(task.id, not buggy.passed, fix_passes, problem, round(duration, 2))


def validate_tasks(
    tasks: list[Task], workers: int = 2, on_done: Callable[[Validation], None] | None = None
) -> list[Validation]:
    """Validate tasks in parallel; results come back in task order."""
    results: dict[str, Validation] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(validate_task, t): t for t in tasks}
        for fut in as_completed(futures):
            v = fut.result()
            results[v.task_id] = v
            if on_done is not None:
                on_done(v)
    return [results[t.id] for t in tasks]
