"""A kept mutant as a task directory in the builtin layout: `task.yaml`, `repo/` (the mutated
repository) and `fix/` (the original file); plus the goal text that describes its symptom."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from repo_agent.runtime.task import TaskSpec
from repo_agent.runtime.workspace import Workspace, ignore_dirs
from repo_agent.suites.generation import existing_tasks
from repo_agent.suites.mutant_sources import MutantError, SourceProgram
from repo_agent.suites.mutations import Mutation
from repo_agent.yamlfile import load_yaml

CATEGORY_PREFIX = "mutant_"

_FAILED = re.compile(r"^(?:FAILED|ERROR) ([^\s:]+)(?:::(\S+))?", re.MULTILINE)
_ERROR_LINE = re.compile(r"^E\s+(\S.*)$", re.MULTILINE)


_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


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
        # A memory address (`<Node object at 0x7f…>`) differs between runs: the goal would too.
        text = _ADDRESS.sub("0x…", " ".join(error.group(1).split()))
        detail = f" ({text[:100] + '…' if len(text) > 100 else text})"
    who = f"{test_name.split('[')[0]} in {test_file}" if test_name else f"{test_file}"
    return (
        f"{who} fails{detail}. Find the bug in the code under test and fix it so the tests "
        f"in {test_file} pass."
    )


def task_dir_name(program: str, op: str, taken: set[str]) -> str:
    """`<program>__<op>`, numbered from 2 when taken; the name is added to `taken`."""
    base = f"{program}__{op}"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def write_task(
    task_dir: Path, ws: Workspace, prog: SourceProgram, rel: str, original: str,
    mutation: Mutation, what: str, goal: str,
) -> None:  # fmt: skip
    """Write the workspace (holding the mutant) as a task whose fix restores `original`."""
    if task_dir.exists():
        shutil.rmtree(task_dir)
    shutil.copytree(ws.root, task_dir / "repo", ignore=ignore_dirs)
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


def clear_tasks(out_dir: Path) -> None:
    """Remove earlier generated task dirs; refuse to touch anything that is not a mutant."""
    for task_dir in existing_tasks(out_dir):
        raw = load_yaml(task_dir / "task.yaml") or {}
        if not str(raw.get("category", "")).startswith(CATEGORY_PREFIX):
            raise MutantError(f"{task_dir} is not a generated mutant task; refusing to remove it")
        shutil.rmtree(task_dir)
