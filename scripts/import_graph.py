"""The import graph of the `repo_agent` package, read from the source (every import statement,
also those inside functions; `if TYPE_CHECKING:` blocks are skipped): what scripts/dvc_yaml.py
makes each stage's code deps from, and what tests/test_imports.py checks the layers with."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "repo_agent"


def module_files() -> dict[str, Path]:
    """Module name -> file, for every module of the package (not the builtin task files)."""
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        rel = path.relative_to(SRC)
        if "builtin" in rel.parts:
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, type_checking: bool = False) -> list[str]:
    """Dotted names an AST imports: `import a.b` -> a.b; `from a import b` -> a.b and a.
    `if TYPE_CHECKING:` blocks count only with `type_checking`."""
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and not type_checking and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def imports_of(path: Path, modules: dict[str, Path], type_checking: bool = False) -> set[str]:
    """Project modules that running `path` imports directly, with their parent packages."""
    out: set[str] = set()
    for name in _imported_names(ast.parse(path.read_text(encoding="utf-8")), type_checking):
        if name not in modules:
            continue
        parts = name.split(".")
        out |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return out


def graph(type_checking: bool = False) -> dict[str, set[str]]:
    """Module -> the project modules it imports (parent packages included, self excluded)."""
    modules = module_files()
    return {m: imports_of(p, modules, type_checking) - {m} for m, p in modules.items()}


def closure(module: str) -> set[str]:
    """Every project module that running `module` (`python -m module`) can import, itself and
    its parent packages included."""
    edges = graph()
    parts = module.split(".")
    todo = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    seen: set[str] = set()
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += edges[m]
    return seen


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return out


def stage_module(cmd: str) -> str:
    """The module a stage command runs: `python -m repo_agent.pipeline.eval dpo` -> its name.

    >>> stage_module("python -m repo_agent.pipeline.eval ${item}")
    'repo_agent.pipeline.eval'
    """
    words = cmd.split()
    if words[:2] != ["python", "-m"] or len(words) < 3:
        raise ValueError(f"stage command {cmd!r}: expected `python -m repo_agent.pipeline.<step>`")
    return words[2]


def dvc_stages(root: Path = ROOT) -> dict[str, dict[str, object]]:
    """The stages of `root/dvc.yaml` as DVC resolves them (foreach stages expanded, e.g.
    `eval@base`): name -> {"cmd", "module", "deps", "outs"} with paths as written."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return {
            s.addressing: {
                "cmd": s.cmd,
                "module": stage_module(s.cmd),
                "deps": [d.def_path for d in s.deps],
                "outs": [o.def_path for o in s.outs],
            }
            for s in repo.index.stages
        }


def stage_names(models: list[str], grammar: list[str] | None = None) -> list[str]:
    """The pipeline's stages as DVC names them, for the evaluated `models` and the constrained
    ones (`grammar`), in dvc.yaml order."""
    head = ["rollout", "extract", "pair", "split", "heldout", "finetune@sft", "finetune@dpo"]
    head += ["onpolicy", "dpo_pairs"]
    evals = [*(f"eval@{m}" for m in models), *(f"eval_grammar@{m}" for m in grammar or [])]
    return [*head, *evals, "report"]
