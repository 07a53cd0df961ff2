"""Renamed variants: a task whose modules, top-level functions and classes, and test files get
fresh names, so that a policy has to read names from what it observes instead of recalling them.

`rename_task` plans the names (seeded, from the vocabulary below) and applies them (see
`rename_ast`) to the buggy files, the reference fix, docstrings, the goal and other text files.
`renamed_tasks` validates the variants by running their tests and writes the suite.

Left alone: directory names, methods, module-level constants, test function names, local
variables that happen to share a renamed name (a parameter `intervals` of `intervals.py`), and
plain English words in prose and strings: module `peak.py` is renamed but "not a peak" in its
goal is not; such names change only where they read as code (`peak.py`, `peak(`, `import peak`,
backticks). Names with an underscore, digit or capital change wherever they stand alone.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from repo_agent.runtime.task import Task, TaskSpec, is_test_file
from repo_agent.suites.rename_ast import (
    RenamePlan,
    is_renamed_module,
    rename_sources,
    rewrite_prose,
    top_defs,
)

# Plain words that name no algorithm or data structure of the builtin suite.
ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clear", "cozy", "crisp", "dusty", "eager", "fancy",
    "fresh", "gentle", "golden", "grand", "hardy", "humble", "jolly", "keen", "lively", "lucky",
    "lunar", "mellow", "misty", "nimble", "noble", "olive", "plain", "polite", "proud", "quiet",
    "rapid", "rosy", "rustic", "sandy", "shiny", "silent", "silver", "sleek", "snowy", "solid",
    "steady", "sunny", "swift", "tidy", "vivid", "warm", "witty", "zesty",
)  # fmt: skip
NOUNS = (
    "acorn", "anchor", "badge", "basket", "beacon", "cabin", "canyon", "cedar", "comet",
    "compass", "crane", "ember", "falcon", "fern", "fjord", "garden", "glade", "harbor",
    "hollow", "island", "jasper", "kettle", "lagoon", "lantern", "maple", "meadow", "orchard",
    "otter", "parcel", "pebble", "pepper", "pillar", "prism", "quarry", "raven", "ribbon",
    "saddle", "shell", "spruce", "summit", "thistle", "timber", "tulip", "valley", "walnut",
    "willow", "zephyr", "marble",
)  # fmt: skip
VERBS = (
    "adjust", "align", "blend", "brew", "carve", "collect", "compose", "craft", "derive",
    "draft", "forge", "gather", "glean", "hatch", "lift", "mend", "mold", "pack", "plant",
    "polish", "probe", "render", "settle", "shape", "sketch", "steer", "stitch", "temper",
    "tend", "tune", "weave", "whittle",
)  # fmt: skip

_RESERVED = frozenset(
    {*keyword.kwlist, *dir(builtins), *sys.stdlib_module_names, "pytest", "tests", "test"}
)


class RenameError(Exception):
    """This task cannot be renamed (the message says why)."""


@dataclass(frozen=True)
class RenamedTask:
    """A renamed variant: its spec, buggy repository, reference fix, and what was renamed."""

    origin: str
    k: int
    spec: TaskSpec
    files: dict[str, str]  # buggy repository: relative path -> text
    fix: dict[str, str]  # expected file -> fixed text
    renames: dict[str, str]  # old -> new: file paths, then functions and classes

    @property
    def id(self) -> str:
        return self.spec.id


# --- planning names -------------------------------------------------------------------------


def _identifiers(trees: Iterable[ast.Module]) -> set[str]:
    """Every identifier the code mentions (new names must not collide with any)."""
    out: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                out.add(node.id)
            elif isinstance(node, ast.Attribute):
                out.add(node.attr)
            elif isinstance(node, ast.arg):
                out.add(node.arg)
            elif isinstance(node, ast.alias):
                out.update(node.name.split("."))
                out.add(node.asname or "")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out.add(node.name)
            elif isinstance(node, ast.keyword) and node.arg:
                out.add(node.arg)
            elif isinstance(node, ast.ImportFrom) and node.module:
                out.update(node.module.split("."))
            elif isinstance(node, ast.Global | ast.Nonlocal):
                out.update(node.names)
    return out


def _pool(kind: str, seed: int, task_id: str, taken: set[str]) -> list[str]:
    """Seeded candidate names of one kind, minus those taken."""
    rng = random.Random(f"{seed}:{task_id}:{kind}")
    if kind == "module":
        tiers = [[f"{a}_{n}" for a in ADJECTIVES for n in NOUNS]]
    elif kind == "function":
        tiers = [[f"{v}_{n}" for v in VERBS for n in NOUNS]]
    elif kind == "class":
        tiers = [[f"{a.title()}{n.title()}" for a in ADJECTIVES for n in NOUNS]]
    else:  # predicate: short names first
        tiers = [
            [f"is_{a}" for a in ADJECTIVES],
            [f"is_{a}_{n}" for a in ADJECTIVES for n in NOUNS],
        ]
    out: list[str] = []
    for tier in tiers:
        rng.shuffle(tier)
        out += [name for name in tier if name not in taken]
    return out


def _kind(name: str, is_class: bool) -> str:
    if is_class:
        return "class"
    return "predicate" if name.lstrip("_").startswith("is_") else "function"


def plan_names(
    versions: Sequence[dict[str, ast.Module]], task_id: str, seed: int, k: int
) -> RenamePlan:
    """New names for variant `k` of a task whose file trees (buggy, fixed) are `versions`.

    Variants of one task take disjoint slices of the same seeded pools, so `k` alone decides
    the names and different `k` never share one."""
    rels = sorted({rel for trees in versions for rel in trees})
    stems = sorted({PurePosixPath(r).stem for r in rels if is_renamed_module(r)})
    is_class: dict[str, bool] = {}  # top-level function or class -> whether a class
    for trees in versions:
        for rel, tree in trees.items():
            if is_renamed_module(rel):
                for name, cls in top_defs(tree).items():
                    is_class[name] = is_class.get(name, False) or cls
    tests = {r: _subject(r) for r in rels if is_test_file(r)}
    functions = {n for n, cls in is_class.items() if not cls}
    fresh = sorted({s for s in tests.values() if s not in stems and s not in functions})
    taken = _RESERVED | {n for trees in versions for n in _identifiers(trees.values())}
    taken |= {part for r in rels for part in PurePosixPath(r).with_suffix("").parts}
    wanted: dict[str, list[str]] = {"module": [*stems, *fresh]}
    for name in sorted(is_class):
        wanted.setdefault(_kind(name, is_class[name]), []).append(name)
    new: dict[str, str] = {}  # module stems and test subjects share a pool; defs are distinct
    for kind, olds in wanted.items():
        pool = _pool(kind, seed, task_id, taken)
        if len(pool) < (k + 1) * len(olds):
            raise RenameError(f"{task_id}: not enough {kind} names for variant {k}")
        for old, name in zip(olds, pool[k * len(olds) :], strict=False):
            new[old if kind != "module" else f"{old}.py"] = (
                "_" + name if old.startswith("_") and kind != "module" else name
            )
    modules = {s: new[f"{s}.py"] for s in stems}
    defs = {n: new[n] for n in is_class}
    files: dict[str, str] = {}
    for rel in rels:
        path = PurePosixPath(rel)
        if is_renamed_module(rel):
            files[rel] = str(path.with_stem(modules[path.stem]))
        elif rel in tests:
            subject = tests[rel]
            name = modules.get(subject) or (defs[subject] if subject in functions else None)
            name = name or new[f"{subject}.py"]
            stem = f"test_{name}" if path.stem.startswith("test_") else f"{name}_test"
            files[rel] = str(path.with_stem(stem))
    if len(set(files.values())) != len(files) or set(files.values()) & (set(rels) - set(files)):
        raise RenameError(f"{task_id}: renamed files would collide")
    return RenamePlan(files, modules, defs)


def _subject(rel: str) -> str:
    """What a test file is named after: `tests/test_lru.py` -> `lru`."""
    return PurePosixPath(rel).stem.removeprefix("test_").removesuffix("_test")


# --- variants -------------------------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RenameError(f"{path}: not UTF-8 text") from exc


def task_sources(task: Task) -> tuple[dict[str, str], dict[str, str]]:
    """The buggy and the fixed file trees of a task (relative path -> text)."""
    if task.fix is None:
        raise RenameError(f"{task.id}: no reference fix")
    if task.source_root is not None:
        raise RenameError(f"{task.id}: whole-repository tasks are not renamed")
    buggy = {rel: _read(path) for rel, path in sorted(task.files.items())}
    return buggy, {**buggy, **task.fix}


def rename_task(task: Task, seed: int = 0, k: int = 0) -> RenamedTask:
    """Variant `k` of `task`, deterministic given (`seed`, `k`): files, functions and classes
    renamed in the buggy files, the fix and the goal. Not validated (see
    `renamed_tasks.generate_renamed`)."""
    buggy, fixed = task_sources(task)
    try:
        versions = [
            {rel: ast.parse(text, rel) for rel, text in files.items() if rel.endswith(".py")}
            for files in (buggy, fixed)
        ]
    except (SyntaxError, ValueError) as exc:
        raise RenameError(f"{task.id}: cannot parse {exc}") from exc
    plan = plan_names(versions, task.id, seed, k)
    if not plan.modules:
        raise RenameError(f"{task.id}: no Python modules to rename")
    expected = [plan.files.get(rel, rel) for rel in task.spec.expected_files]
    new_fixed = rename_sources(fixed, plan)
    spec = task.spec.model_copy(
        update={
            "id": f"{task.id}__rn{k}",
            "goal": rewrite_prose(task.spec.goal, plan),
            "expected_files": expected,
            "test_cmd": rewrite_prose(task.spec.test_cmd, RenamePlan(plan.files, {}, {})),
        }
    )
    renames = {**plan.files, **dict(sorted(plan.defs.items()))}
    fix = {rel: new_fixed[rel] for rel in expected}
    return RenamedTask(task.id, k, spec, rename_sources(buggy, plan), fix, renames)
