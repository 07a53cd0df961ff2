"""Applying a `RenamePlan` to a task's files: Python through `ast`, scope-aware, so only the
references that lead to a renamed module, function or class change; docstrings, strings and
other text files as prose, where plain English words are left alone.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from repo_agent.runtime.task import is_test_file

_PROTECTED_STEMS = frozenset({"__init__", "__main__", "conftest", "setup", "noxfile"})


@dataclass(frozen=True)
class RenamePlan:
    """The new names of one variant."""

    files: dict[str, str]  # old relative path -> new (renamed .py files only)
    modules: dict[str, str]  # old stem -> new stem
    defs: dict[str, str]  # old top-level function/class name -> new


def is_renamed_module(rel: str) -> bool:
    """A Python file whose stem is renamed (tests get names derived from their module's)."""
    stem = PurePosixPath(rel).stem
    return rel.endswith(".py") and not is_test_file(rel) and stem not in _PROTECTED_STEMS


def top_defs(tree: ast.Module) -> dict[str, bool]:
    """Top-level function and class names (True for classes), dunders excluded."""
    return {
        n.name: isinstance(n, ast.ClassDef)
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and not (n.name.startswith("__") and n.name.endswith("__"))
    }


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
        if is_renamed_module(rel):
            defs = tree_info.plan.defs
            tree_info.exports[rel] = {n: defs[n] for n in top_defs(tree) if n in defs}
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
