"""A bug-fix task: the task.yaml format, the Task the agent works on, and loading task dirs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from repo_agent.records import TaskMetadata
from repo_agent.yamlfile import ConfigModel, load_yaml

DEFAULT_TEST_CMD = "python -m pytest -q -x tests"


def is_test_file(rel: str) -> bool:
    """A test module by pytest's naming (`test_*.py`, `*_test.py`), wherever it lives.

    >>> [is_test_file(r) for r in ("tests/test_a.py", "lru_test.py", "tests/util.py", "test_a.txt")]
    [True, True, False, False]
    """
    path = PurePosixPath(rel)
    return path.suffix == ".py" and (path.stem.startswith("test_") or path.stem.endswith("_test"))


class TaskFileError(Exception):
    """A task file is missing or malformed; the message names the file and the problem."""


class TaskSpec(ConfigModel):
    """The contents of a task.yaml (strict types, finite numbers, no unknown keys)."""

    format: Literal[1] = 1
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    goal: str = Field(min_length=1)
    difficulty: Literal["easy", "medium", "hard"]
    category: str
    expected_files: list[str]
    test_cmd: str = DEFAULT_TEST_CMD
    timeout_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _files_expected(self) -> TaskSpec:
        # Only a whole repository (suite `repo`) has no known file to fix.
        if not self.expected_files and self.category != "repo":
            raise ValueError("expected_files needs at least one file")
        return self


@dataclass
class Task:
    """A bug-fix task: files to copy into a workspace, a goal, tests and (maybe) a reference fix."""

    spec: TaskSpec
    files: dict[str, Path]  # workspace-relative path -> source file
    fix: dict[str, str] | None  # workspace-relative path -> fixed content
    suite: str = "builtin"
    source_root: Path | None = None  # copied wholesale first (repo suite)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def metadata(self) -> TaskMetadata:
        return TaskMetadata(
            difficulty=self.spec.difficulty,
            category=self.spec.category,
            expected_files=list(self.spec.expected_files),
        )

    def original_text(self, rel: str) -> str | None:
        src = self.files.get(rel)
        if src is None and self.source_root is not None and (self.source_root / rel).is_file():
            src = self.source_root / rel
        return src.read_text(encoding="utf-8") if src is not None else None


def _files_under(root: Path) -> dict[str, Path]:
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


def load_task_dir(task_dir: Path, suite: str = "builtin") -> Task:
    """Load one task directory (task.yaml, repo/, fix/)."""
    spec_path = task_dir / "task.yaml"
    if not spec_path.is_file():
        raise TaskFileError(f"{spec_path}: missing task.yaml")
    try:
        raw = load_yaml(spec_path)
        spec = TaskSpec.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise TaskFileError(f"{spec_path}: {exc}") from exc
    if spec.id != task_dir.name:
        raise TaskFileError(f"{spec_path}: id {spec.id!r} differs from directory {task_dir.name!r}")
    repo = task_dir / "repo"
    if not repo.is_dir():
        raise TaskFileError(f"{task_dir}: missing repo/ directory")
    files = _files_under(repo)
    fix_dir = task_dir / "fix"
    fix = (
        {rel: p.read_text(encoding="utf-8") for rel, p in _files_under(fix_dir).items()}
        if fix_dir.is_dir()
        else None
    )
    if fix is not None and sorted(fix) != sorted(spec.expected_files):
        raise TaskFileError(
            f"{spec_path}: expected_files {spec.expected_files} differ from fix/ {sorted(fix)}"
        )
    return Task(spec=spec, files=files, fix=fix, suite=suite)


def load_task_tree(root: Path, suite: str) -> list[Task]:
    """Every task directory directly under `root`, sorted by id."""
    if not root.is_dir():
        raise TaskFileError(f"{root}: not a directory")
    dirs = sorted(p for p in root.iterdir() if (p / "task.yaml").is_file())
    return [load_task_dir(d, suite) for d in dirs]
