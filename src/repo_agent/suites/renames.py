"""Renamed variants: a task whose modules, top-level functions and classes, and test files get
fresh names, so that a policy has to read names from what it observes instead of recalling them.

`rename_task` plans the names (seeded, from the vocabulary below) and applies them with `ast`,
scope-aware, to the buggy files, the reference fix, docstrings, the goal and other text files.
`generate_renamed` keeps the variants whose buggy version fails like the original's and whose
fix passes, as task dirs `<origin>__rn<k>` in the builtin layout, with a manifest `renamed.json`.

Left alone: directory names, methods, module-level constants, test function names, local
variables that happen to share a renamed name (a parameter `intervals` of `intervals.py`), and
plain English words in prose and strings: module `peak.py` is renamed but "not a peak" in its
goal is not; such names change only where they read as code (`peak.py`, `peak(`, `import peak`,
backticks). Names with an underscore, digit or capital change wherever they stand alone.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
import keyword
import random
import re
import shutil
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml

from repo_agent.runtime.task import Task, TaskSpec, load_task_tree
from repo_agent.runtime.testrun import TestOutcome, run_tests
from repo_agent.runtime.workspace import Workspace
from repo_agent.suites.mutant_tasks import existing_tasks

MANIFEST = "renamed.json"
MANIFEST_FORMAT = "repo-agent.renamed/1"
SUITE = "renamed"
VARIANT_ID = re.compile(r"__rn(\d+)$")

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

_PROTECTED_STEMS = frozenset({"__init__", "__main__", "conftest", "setup", "noxfile"})
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


def _is_test_stem(stem: str) -> bool:
    return stem.startswith("test_") or stem.endswith("_test")


def _is_module(rel: str) -> bool:
    """A Python file whose stem is renamed (tests get names derived from their module's)."""
    stem = PurePosixPath(rel).stem
    return rel.endswith(".py") and not _is_test_stem(stem) and stem not in _PROTECTED_STEMS


def _top_defs(tree: ast.Module) -> dict[str, bool]:
    """Top-level function and class names (True for classes), dunders excluded."""
    return {
        n.name: isinstance(n, ast.ClassDef)
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and not (n.name.startswith("__") and n.name.endswith("__"))
    }


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


@dataclass(frozen=True)
class RenamePlan:
    """The new names of one variant."""

    files: dict[str, str]  # old relative path -> new (renamed .py files only)
    modules: dict[str, str]  # old stem -> new stem
    defs: dict[str, str]  # old top-level function/class name -> new


def plan_names(
    versions: Sequence[dict[str, ast.Module]], task_id: str, seed: int, k: int
) -> RenamePlan:
    """New names for variant `k` of a task whose file trees (buggy, fixed) are `versions`.

    Variants of one task take disjoint slices of the same seeded pools, so `k` alone decides
    the names and different `k` never share one."""
    rels = sorted({rel for trees in versions for rel in trees})
    stems = sorted({PurePosixPath(r).stem for r in rels if _is_module(r)})
    is_class: dict[str, bool] = {}  # top-level function or class -> whether a class
    for trees in versions:
        for rel, tree in trees.items():
            if _is_module(rel):
                for name, cls in _top_defs(tree).items():
                    is_class[name] = is_class.get(name, False) or cls
    tests = {r: _subject(r) for r in rels if _is_test_stem(PurePosixPath(r).stem)}
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
        if _is_module(rel):
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


# --- prose ----------------------------------------------------------------------------------


def _distinctive(name: str) -> bool:
    """Whether a name cannot be an English word (so it is renamed wherever it stands alone)."""
    return not re.fullmatch(r"[a-z]+", name)


def rewrite_prose(text: str, plan: RenamePlan) -> str:
    """Rename files and names in prose: goals, docstrings, READMEs.

    >>> plan = RenamePlan({"peak.py": "tidy_fern.py"}, {"peak": "tidy_fern"}, {"find_peak": "mend"})
    >>> rewrite_prose("find_peak() in peak.py returns a peak; see `peak`", plan)
    'mend() in tidy_fern.py returns a peak; see `tidy_fern`'
    """
    for old, new in plan.files.items():
        old_name, new_name = PurePosixPath(old).name, PurePosixPath(new).name
        text = re.sub(rf"(?<![\w.-]){re.escape(old_name)}(?![\w-])", new_name, text)
    module_names = [*plan.modules, *plan.modules.values()]
    for table, is_module in ((plan.defs, False), (plan.modules, True)):
        for old, new in table.items():
            o = re.escape(old)
            if _distinctive(old):
                patterns = [rf"(?<!\w){o}(?!\w)"]
            elif is_module:
                patterns = [
                    rf"(?<![\w.]){o}(?=\.[A-Za-z_])",
                    rf"(?<=\bimport ){o}(?!\w)",
                    rf"(?<=\bfrom ){o}(?!\w)",
                    rf"(?<=`){o}(?=`)",
                ]
            else:
                patterns = [rf"(?<![\w.]){o}(?=\()", rf"(?<=`){o}(?=[`(])"]
                patterns += [rf"(?<=\b{re.escape(m)}\.){o}(?!\w)" for m in module_names]
            text = re.sub("|".join(patterns), new, text)
    return text


# --- code -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    """What a name or attribute refers to: a module file, a package dir or a renamed def;
    `new` is its new name where the reference itself is renamed."""

    kind: Literal["file", "dir", "def"]
    target: str
    new: str | None = None


class _Tree:
    """Where imports lead within one task's files, and the new names those lead to."""

    def __init__(self, rels: Iterable[str], plan: RenamePlan) -> None:
        self.files = set(rels)
        self.dirs = {str(p) for r in self.files for p in PurePosixPath(r).parents}
        self.plan = plan
        self.exports: dict[str, dict[str, str]] = {}

    def child(self, base: str, name: str) -> _Ref | None:
        """Submodule or subpackage `name` of directory `base`."""
        path = name if base in {"", "."} else f"{base}/{name}"
        if path + ".py" in self.files:
            new = self.plan.files.get(path + ".py")
            return _Ref("file", path + ".py", PurePosixPath(new).stem if new else None)
        if path in self.dirs:
            return _Ref("dir", path)
        return None

    def step(self, ref: _Ref | None, name: str) -> _Ref | None:
        """The attribute `name` of what `ref` refers to."""
        if ref is None or ref.kind == "def":
            return None
        if ref.kind == "dir":
            found = self.child(ref.target, name)
            if found is not None:
                return found
            init = "__init__.py" if ref.target in {"", "."} else f"{ref.target}/__init__.py"
            ref = _Ref("file", init)
        new = self.exports.get(ref.target, {}).get(name)
        return _Ref("def", name, new) if new else None

    def resolve(self, dotted: str, level: int = 0, here: str = "") -> list[_Ref | None]:
        """A ref per component of an import's module path (absolute or relative to `here`)."""
        parts = dotted.split(".") if dotted else []
        if level:
            base = PurePosixPath(here).parent
            for _ in range(level - 1):
                base = base.parent
            roots = [str(base)]
        else:  # the working directory first, then directories pytest may put on sys.path
            roots = sorted(self.dirs, key=lambda d: (d != ".", d.count("/"), d))
        best: list[_Ref | None] = []
        for root in roots:
            refs: list[_Ref | None] = []
            ref: _Ref | None = _Ref("dir", root)
            for part in parts:
                ref = self.step(ref, part) if ref is not None else None
                refs.append(ref)
            if level or (refs and refs[-1] is not None):
                return refs if parts else [_Ref("dir", root)]
            best = best or refs
        return best or [None] * len(parts)


def _module_exports(tree_info: _Tree, trees: dict[str, ast.Module]) -> None:
    """Fill `exports`: each file's renamed module-level names (own defs and plain re-imports)."""
    for rel, tree in trees.items():
        if _is_module(rel):
            defs = tree_info.plan.defs
            tree_info.exports[rel] = {n: defs[n] for n in _top_defs(tree) if n in defs}
    changed = True
    while changed:
        changed = False
        for rel, tree in trees.items():
            for node in tree.body:
                if not isinstance(node, ast.ImportFrom):
                    continue
                base = tree_info.resolve(node.module or "", node.level, rel)
                table = tree_info.exports.setdefault(rel, {})
                for a in node.names:
                    if a.asname or a.name in table:
                        continue
                    ref = tree_info.step(base[-1] if base else None, a.name)
                    if ref is not None and ref.new:
                        table[a.name] = ref.new
                        changed = True


def _aliased(ref: _Ref | None) -> _Ref | None:
    """The same target under a local alias, which keeps its name (`import heap as h`)."""
    return None if ref is None else _Ref(ref.kind, ref.target)


def _join(refs: list[_Ref | None], dotted: str) -> str:
    """A dotted module path with its renamed components replaced."""
    parts = dotted.split(".")
    return ".".join(r.new if r and r.new else p for r, p in zip(refs, parts, strict=True))


class _Renamer(ast.NodeVisitor):
    """Rename, in place, the references of one file that lead to renamed modules and defs."""

    def __init__(self, info: _Tree, rel: str) -> None:
        self.info, self.rel = info, rel
        # (kind, bindings, names declared global) per scope, innermost last
        self.scopes: list[tuple[str, dict[str, _Ref | None], set[str]]] = []

    # scopes

    def _lookup(self, name: str) -> _Ref | None:
        for i in range(len(self.scopes) - 1, -1, -1):
            kind, table, declared = self.scopes[i]
            if name in declared:
                return self.scopes[0][1].get(name)
            if kind == "class" and i != len(self.scopes) - 1:
                continue  # a class body's names are not visible in its methods
            if name in table:
                return table[name]
        return None

    def _bind(self, table: dict[str, _Ref | None], name: str, ref: _Ref | None) -> None:
        if table.get(name) is None:  # a def or import decides (`def f`, then `f = wrap(f)`)
            table[name] = ref

    def _scan(self, body: Sequence[ast.AST], kind: str, args: ast.arguments | None = None) -> None:
        """Push a scope with the names its body binds (not descending into nested scopes)."""
        table: dict[str, _Ref | None] = {}
        declared: set[str] = set()  # `global` names
        outer: set[str] = set()  # `nonlocal` names
        if args is not None:
            for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if a is not None:
                    table[a.arg] = None
        todo = deque(body)
        while todo:
            node = todo.popleft()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                new = (
                    self.info.exports.get(self.rel, {}).get(node.name) if kind == "module" else None
                )
                self._bind(table, node.name, _Ref("def", node.name, new) if new else None)
                continue
            if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp):
                continue  # scopes of their own
            if isinstance(node, ast.GeneratorExp | ast.comprehension):
                continue
            if isinstance(node, ast.Global):
                declared.update(node.names)
            elif isinstance(node, ast.Nonlocal):
                outer.update(node.names)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    refs = self.info.resolve(a.name)
                    if a.asname:
                        self._bind(table, a.asname, _aliased(refs[-1]))
                    else:
                        self._bind(table, a.name.split(".")[0], refs[0])
            elif isinstance(node, ast.ImportFrom):
                base = self.info.resolve(node.module or "", node.level, self.rel)
                for a in node.names:
                    if a.name == "*":
                        target = base[-1] if base else None
                        if target is not None and target.kind == "file":
                            for old, new in self.info.exports.get(target.target, {}).items():
                                self._bind(table, old, _Ref("def", old, new))
                        continue
                    ref = self.info.step(base[-1] if base else None, a.name)
                    self._bind(table, a.asname or a.name, _aliased(ref) if a.asname else ref)
            elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                self._bind(table, node.id, None)
            elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
                self._bind(table, node.name, None)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                self._bind(table, node.rest, None)
            todo.extend(ast.iter_child_nodes(node))
        for name in declared | outer:  # bound elsewhere: leave the lookup to outer scopes
            table.pop(name, None)
        self.scopes.append((kind, table, declared))

    def _new(self, name: str) -> str:
        ref = self._lookup(name)
        return ref.new if ref is not None and ref.new else name

    def _target(self, node: ast.expr) -> _Ref | None:
        if isinstance(node, ast.Name):
            return self._lookup(node.id)
        if isinstance(node, ast.Attribute):
            return self.info.step(self._target(node.value), node.attr)
        return None

    # nodes

    def visit_Module(self, node: ast.Module) -> None:
        self._scan(node.body, "module")
        self.generic_visit(node)
        self.scopes.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        a = node.args
        for expr in [*a.defaults, *[d for d in a.kw_defaults if d is not None]]:
            self.visit(expr)
        if isinstance(node, ast.Lambda):
            self._scan([node.body], "function", a)
            self.visit(node.body)
        else:
            for expr in node.decorator_list:
                self.visit(expr)
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                if arg is not None and arg.annotation is not None:
                    self.visit(arg.annotation)
            if node.returns is not None:
                self.visit(node.returns)
            node.name = self._new(node.name)
            self._scan(node.body, "function", a)
            for stmt in node.body:
                self.visit(stmt)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(expr)
        node.name = self._new(node.name)
        self._scan(node.body, "class")
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    def _visit_comprehension(self, node: ast.expr) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter)  # evaluated in the enclosing scope
        self._scan([g.target for g in generators], "function")
        for i, g in enumerate(generators):
            self.visit(g.target)
            if i:
                self.visit(g.iter)
            for cond in g.ifs:
                self.visit(cond)
        for name in ("elt", "key", "value"):
            if isinstance(getattr(node, name, None), ast.AST):
                self.visit(getattr(node, name))
        self.scopes.pop()

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comprehension

    def visit_Name(self, node: ast.Name) -> None:
        node.id = self._new(node.id)

    def visit_Global(self, node: ast.Global) -> None:
        node.names = [self._new(n) for n in node.names]

    def visit_Attribute(self, node: ast.Attribute) -> None:
        ref = self._target(node)
        self.visit(node.value)
        if ref is not None and ref.new:
            node.attr = ref.new

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            refs = self.info.resolve(a.name)
            a.name = _join(refs, a.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self.info.resolve(node.module or "", node.level, self.rel)
        if node.module:
            node.module = _join(base, node.module)
        for a in node.names:
            ref = self.info.step(base[-1] if base else None, a.name)
            if ref is not None and ref.new:
                a.name = ref.new

    def visit_Assign(self, node: ast.Assign) -> None:
        exported = len(self.scopes) == 1 and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        )
        if exported and isinstance(node.value, ast.List | ast.Tuple):
            for elt in node.value.elts:
                if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                    elt.value = self._new(elt.value)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        # A dotted path ("pkg.mod.f", as mock.patch takes) resolves like an import; any other
        # string (docstring, message, data) is prose, where plain words are left alone.
        text = node.value
        if not isinstance(text, str):
            return
        if re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", text):
            parts = text.split(".")
            refs = self.info.resolve(parts[0])
            for part in parts[1:]:
                refs.append(self.info.step(refs[-1], part))
            if refs[0] is not None:
                node.value = _join(refs, text)
                return
        node.value = rewrite_prose(text, self.info.plan)


def rename_sources(sources: dict[str, str], plan: RenamePlan) -> dict[str, str]:
    """Apply `plan` to a file tree (relative path -> text): Python through `ast`, other text
    as prose; renamed files get their new paths."""
    trees = {rel: ast.parse(text, rel) for rel, text in sources.items() if rel.endswith(".py")}
    info = _Tree(sources, plan)
    _module_exports(info, trees)
    out: dict[str, str] = {}
    for rel, text in sources.items():
        if rel in trees:
            _Renamer(info, rel).visit(trees[rel])
            text = ast.unparse(trees[rel]) + "\n"
        else:
            text = rewrite_prose(text, plan)
        out[plan.files.get(rel, rel)] = text
    return out


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
    renamed in the buggy files, the fix and the goal. Not validated (see `generate_renamed`)."""
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


# --- validation and generation ----------------------------------------------------------------

_FAILED_TEST = re.compile(r"^(?:FAILED|ERROR) [^\s:]+::(\S+)", re.MULTILINE)
_SUMMARY = re.compile(r"^=*\s*(\d+ \w+(?:, \d+ \w+)*) in [\d.]+s", re.MULTILINE)


def failure_signature(output: str) -> tuple[tuple[str, ...], str]:
    """Which tests failed (file names aside, as those are renamed) and pytest's counts.

    >>> failure_signature("FAILED tests/test_a.py::test_x - assert 0\\n1 failed, 2 passed in 0.1s")
    (('test_x',), '1 failed, 2 passed')
    """
    summaries = _SUMMARY.findall(output)
    return tuple(sorted(_FAILED_TEST.findall(output))), summaries[-1] if summaries else ""


def _run(files: dict[str, str], test_cmd: str, timeout_s: float) -> TestOutcome:
    ws = Workspace.create({}, prefix="ra-rename-")
    try:
        for rel, text in files.items():
            ws.write_text(rel, text)
        return run_tests(ws.root, test_cmd, timeout_s)
    finally:
        ws.cleanup()


@dataclass
class ProgramReport:
    """What happened to one source task."""

    program: str
    kept: list[str] = field(default_factory=list)  # task ids
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> count
    renames: dict[str, dict[str, str]] = field(default_factory=dict)  # kept id -> old -> new
    duration_s: float = 0.0
    note: str | None = None  # why the task gave no variants, if it was skipped


@dataclass
class GenerationReport:
    out_dir: Path
    seed: int
    per_program: int
    sources: str  # digest of the source tasks
    programs: list[ProgramReport]
    duration_s: float

    @property
    def kept(self) -> int:
        return sum(len(p.kept) for p in self.programs)

    def to_dict(self) -> dict:
        return {
            "format": MANIFEST_FORMAT,
            "seed": self.seed,
            "per_program": self.per_program,
            "sources": self.sources,
            "kept": self.kept,
            "rejected": sum(sum(p.rejected.values()) for p in self.programs),
            "duration_s": round(self.duration_s, 2),
            "programs": [
                {**asdict(p), "rejected": dict(sorted(p.rejected.items()))} for p in self.programs
            ],
        }


# Called with a task's report after each variant's test runs (done=False) and once when the
# task is finished (done=True).
OnProgress = Callable[[ProgramReport, bool], None]


def validate_variant(variant: RenamedTask, original_failure: TestOutcome) -> str | None:
    """Why a variant is rejected, or None: its buggy version must fail the way the original
    fails (same failing tests and counts, so not through a broken rename) and its fix pass."""
    spec = variant.spec
    buggy = _run(variant.files, spec.test_cmd, spec.timeout_s)
    if buggy.passed:
        return "buggy_passes"
    same = original_failure.timed_out or (
        failure_signature(buggy.output) == failure_signature(original_failure.output)
    )
    if not same:
        return "fails_differently"
    fixed = _run({**variant.files, **variant.fix}, spec.test_cmd, spec.timeout_s)
    return None if fixed.passed else "fix_fails"


def write_variant(task_dir: Path, variant: RenamedTask) -> None:
    """Write a variant as a task directory: task.yaml, repo/ (buggy) and fix/."""
    if task_dir.exists():
        shutil.rmtree(task_dir)
    for sub, files in (("repo", variant.files), ("fix", variant.fix)):
        for rel, text in files.items():
            path = task_dir / sub / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    header = f"# renamed variant {variant.k} of {variant.origin} (names in {MANIFEST})\n"
    body = yaml.safe_dump(variant.spec.model_dump(), sort_keys=False, allow_unicode=True, width=100)
    (task_dir / "task.yaml").write_text(header + body, encoding="utf-8")


def rename_program(
    task: Task,
    out_dir: Path,
    per_program: int,
    seed: int,
    on_try: Callable[[ProgramReport], None] | None = None,
) -> ProgramReport:
    """Write the valid variants 0..`per_program`-1 of one task into `out_dir`."""
    start = time.monotonic()
    report = ProgramReport(task.id)
    try:
        buggy, fixed = task_sources(task)
        original = _run(buggy, task.spec.test_cmd, task.spec.timeout_s)
        if original.passed:
            report.note = "the original buggy version passes its tests; skipped"
            return report
        if not _run(fixed, task.spec.test_cmd, task.spec.timeout_s).passed:
            report.note = "the original fix fails its tests; skipped"
            return report
        for k in range(per_program):
            variant = rename_task(task, seed, k)
            reason = validate_variant(variant, original)
            if reason is None:
                write_variant(out_dir / variant.id, variant)
                report.kept.append(variant.id)
                report.renames[variant.id] = variant.renames
            else:
                report.rejected[reason] += 1
            if on_try is not None:
                on_try(report)
        return report
    except RenameError as exc:
        report.note = str(exc)
        return report
    finally:
        report.duration_s = round(time.monotonic() - start, 2)


def sources_digest(tasks: Sequence[Task]) -> str:
    """A short hash of the source tasks (ids, specs, files, fixes): variants go stale with it."""
    h = hashlib.sha256()
    for t in sorted(tasks, key=lambda t: t.id):
        h.update(t.spec.model_dump_json().encode())
        for rel, path in sorted(t.files.items()):
            h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
        for rel, text in sorted((t.fix or {}).items()):
            h.update(rel.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()[:16]


def clear_variants(out_dir: Path) -> None:
    """Remove earlier variants and the manifest; refuse to touch any other task dir."""
    for task_dir in existing_tasks(out_dir):
        if not VARIANT_ID.search(task_dir.name):
            raise RenameError(f"{task_dir} is not a renamed variant; refusing to remove it")
        shutil.rmtree(task_dir)
    (out_dir / MANIFEST).unlink(missing_ok=True)


def generate_renamed(
    tasks: Sequence[Task],
    out_dir: Path,
    per_program: int = 2,
    seed: int = 0,
    workers: int = 2,
    on_progress: OnProgress | None = None,
    *,
    force: bool = False,
) -> GenerationReport:
    """Write up to `per_program` validated renamed variants of each task into `out_dir`, with
    the report in `out_dir/renamed.json`. Deterministic given `seed`; tasks run `workers` at a
    time and calls to `on_progress` are serialised."""
    if per_program < 1:
        raise ValueError(f"per_program must be at least 1, not {per_program}")
    start = time.monotonic()
    if existing_tasks(out_dir):
        if not force:
            raise RenameError(f"{out_dir} already holds tasks; choose an empty directory or force")
        clear_variants(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    def notify(report: ProgramReport, done: bool) -> None:
        if on_progress is not None:
            with lock:
                on_progress(report, done)

    def work(task: Task) -> ProgramReport:
        report = rename_program(task, out_dir, per_program, seed, lambda r: notify(r, False))
        notify(report, True)
        return report

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        reports = list(pool.map(work, tasks))
    report = GenerationReport(
        out_dir, seed, per_program, sources_digest(tasks), reports, time.monotonic() - start
    )
    (out_dir / MANIFEST).write_text(json.dumps(report.to_dict(), indent=1) + "\n", "utf-8")
    return report


def ensure_renamed_suite(
    out_dir: Path, source_tasks: Sequence[Task], per_program: int = 2, seed: int = 0
) -> list[Task]:
    """The renamed variants in `out_dir`, generated from `source_tasks` first unless they are
    already there from the same tasks, `per_program` and `seed`."""
    manifest = out_dir / MANIFEST
    if existing_tasks(out_dir) and manifest.is_file():
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        made = tuple(meta.get(key) for key in ("format", "seed", "per_program", "sources"))
        if made == (MANIFEST_FORMAT, seed, per_program, sources_digest(source_tasks)):
            return load_task_tree(out_dir, SUITE)
    generate_renamed(source_tasks, out_dir, per_program, seed, force=True)
    return load_task_tree(out_dir, SUITE)
