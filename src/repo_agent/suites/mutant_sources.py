"""Where mutants come from: correct code with passing tests, read as `SourceProgram`s.

A tree of task directories (each task with its reference fix applied, e.g. the builtin suite),
a QuixBugs checkout (its correct programs), or any repository plus a test command.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from repo_agent.runtime.task import DEFAULT_TEST_CMD, Task, is_test_file, load_task_tree
from repo_agent.runtime.testrun import run_tests
from repo_agent.runtime.workspace import Workspace, is_ignored
from repo_agent.suites.generation import digest


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


def programs_digest(programs: list[SourceProgram]) -> str:
    """A digest of what the programs' mutants are made from: their settings and files."""

    def parts() -> Iterable[bytes]:
        for p in sorted(programs, key=lambda p: p.name):
            settings = (p.name, p.targets, p.test_cmd, p.timeout_s, p.difficulty)
            yield json.dumps(settings).encode() + b"\0"
            files = dict(_tree(p.source_root)) if p.source_root else {}
            files.update(p.files)
            for rel, path in sorted(files.items()):
                yield rel.encode() + b"\0" + path.read_bytes() + b"\0"
            for rel, text in sorted(p.overrides.items()):
                yield rel.encode() + b"\0" + text.encode() + b"\0"

    return digest(parts())


def _tree(root: Path) -> Iterable[tuple[str, Path]]:
    """The files a workspace copies from `root`."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(is_ignored(part) for part in rel.parts):
            yield rel.as_posix(), path


def _not_mutated(rel: str) -> bool:
    """Tests, the files beside them, and packaging scripts are not mutated.

    >>> [_not_mutated(r) for r in ("tests/util.py", "pkg/test_a.py", "setup.py", "pkg/a.py")]
    [True, True, True, False]
    """
    parts = rel.split("/")
    return (
        is_test_file(rel)
        or any(p in {"tests", "test", "testing"} for p in parts[:-1])
        or parts[-1] in {"conftest.py", "setup.py", "noxfile.py"}
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
        if not _not_mutated(rel)
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
