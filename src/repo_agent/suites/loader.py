"""Task suites: the shipped `builtin` suite, loaders for other sources, and the tasks the
pipeline's `suite` params select."""

from __future__ import annotations

from pathlib import Path

from repo_agent.runtime.task import DEFAULT_TEST_CMD, Task, TaskFileError, load_task_tree
from repo_agent.suites.config import SuiteParams

BUILTIN_DIR = Path(__file__).parent / "builtin"


def load_suite(name: str, path: Path | None = None, test_cmd: str | None = None) -> list[Task]:
    """Load the tasks of a suite by name (`path` for suites that live outside the package)."""
    if name == "builtin":
        return load_task_tree(path or BUILTIN_DIR, "builtin")
    if name == "quixbugs":
        from repo_agent.suites.quixbugs import load_quixbugs

        if path is None:
            raise TaskFileError("the quixbugs suite needs --path to a QuixBugs checkout")
        return load_quixbugs(path)
    if name == "mutants":
        if path is None:
            raise TaskFileError("the mutants suite needs --path to a directory of generated tasks")
        return load_task_tree(path, "mutants")
    if name == "renamed":
        if path is None:
            raise TaskFileError("the renamed suite needs --path to a directory of generated tasks")
        return load_task_tree(path, "renamed")
    if name == "repo":
        from repo_agent.suites.repo import load_repo_task

        if path is None:
            raise TaskFileError("the repo suite needs --path to a repository (and --test-cmd)")
        return [load_repo_task(path, test_cmd or DEFAULT_TEST_CMD)]
    raise TaskFileError(
        f"unknown suite {name!r}; choose builtin, quixbugs, mutants, renamed or repo"
    )


def select_tasks(tasks: list[Task], ids: list[str] | None) -> list[Task]:
    """Keep tasks by id, in the given order; unknown ids are an error naming them."""
    if not ids:
        return tasks
    by_id = {t.id: t for t in tasks}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise TaskFileError(f"unknown task id(s): {', '.join(missing)}")
    return [by_id[i] for i in ids]


def configured_tasks(
    suite: SuiteParams, mutants_dir: Path, *, renamed_dir: Path | None = None
) -> list[Task]:
    """The tasks the `suite` params select, from one or several suites, sorted by id.

    Mutants are generated into `mutants_dir` first unless `suite.mutants_path` names them;
    renamed variants of the builtin suite likewise into `renamed_dir` (default: a `renamed`
    directory beside `mutants_dir`) unless `suite.renamed_path` names them."""
    tasks: list[Task] = []
    for name in suite.names:
        if name == "mutants":
            from repo_agent.suites.mutants import ensure_mutant_suite

            path = Path(suite.mutants_path) if suite.mutants_path else mutants_dir
            tasks += ensure_mutant_suite(
                path, BUILTIN_DIR, suite.mutants_per_program, suite.mutants_seed
            )
        elif name == "renamed":
            from repo_agent.suites.renamed_tasks import ensure_renamed_suite

            default = renamed_dir or mutants_dir.parent / "renamed"
            path = Path(suite.renamed_path) if suite.renamed_path else default
            tasks += ensure_renamed_suite(
                path, load_suite("builtin"), suite.renamed_per_program, suite.renamed_seed
            )
        elif name == "quixbugs":
            tasks += load_suite(
                "quixbugs", Path(suite.quixbugs_path) if suite.quixbugs_path else None
            )
        else:
            tasks += load_suite(name)
    tasks = sorted(tasks, key=lambda t: t.id)
    tasks = select_tasks(tasks, suite.tasks or None)
    return tasks[: suite.max_tasks] if suite.max_tasks else tasks
