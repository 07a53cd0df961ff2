"""Where mutants come from: correct code with passing tests, read as `SourceProgram`s.

A tree of task directories (each task with its reference fix applied, e.g. the builtin suite),
a QuixBugs checkout (its correct programs), or any repository plus a test command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from repo_agent.runtime.task import DEFAULT_TEST_CMD, Task, load_task_tree
from repo_agent.runtime.testrun import run_tests
from repo_agent.runtime.workspace import Workspace


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
    """Tests and packaging scripts are not mutated.

    >>> [_is_test_file(r) for r in ("tests/util.py", "pkg/test_a.py", "pkg/a.py")]
    [True, True, False]
    """
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
    with Workspace.create({}, root, prefix="ra-mutant-check-") as ws:
        outcome = run_tests(ws.root, test_cmd, timeout_s)
        files = [f for f in ws.list_files(".", 20_000) if f.endswith(".py")]
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
