"""AST mutation operators: find every place a small realistic bug can be planted, plant one.

Pure functions over `ast` trees. A `Mutation` names an operator, a node (its index in
`ast.walk` order, which a deep copy preserves) and a variant, so it can be listed on one tree
and applied to a fresh copy:

>>> tree = ast.parse("def f(a, b):\\n    return a < b\\n")
>>> m = next(m for m in find_mutations(tree) if m.op == "flip_comparison")
>>> mutant, what = apply_mutation(tree, m)
>>> ast.unparse(mutant).splitlines()[1], what
('    return a > b', '`a < b` → `a > b`')
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

OPERATORS = (
    "flip_comparison",
    "off_by_one",
    "swap_operands",
    "wrong_operator",
    "wrong_variable",
    "drop_statement",
    "change_constant",
    "invert_condition",
    "early_return",
)

_FLIP = {
    ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
_BOUNDARY = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
_WRONG_OP = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd, ast.BitXor: ast.BitAnd, ast.LShift: ast.RShift, ast.RShift: ast.LShift,
}  # fmt: skip
_NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift)
_DROPPABLE = (
    ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.If, ast.Return, ast.Break,
    ast.Continue,
)  # fmt: skip
_Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Mutation:
    """One planted bug: operator, node index in `ast.walk` order, variant, enclosing function."""

    op: str
    node: int
    variant: Any
    function: str | None = None


class _Context:
    """Facts about one tree that sites and edits need: docstrings, scopes, parents."""

    def __init__(self, tree: ast.Module) -> None:
        self.nodes = list(ast.walk(tree))
        self.docstrings: set[int] = set()
        self.func_of: dict[int, _Function] = {}
        self.parents: dict[int, tuple[ast.AST, str, int | None]] = {}
        for node in self.nodes:
            for name, value in ast.iter_fields(node):
                if isinstance(value, list):
                    for i, child in enumerate(value):
                        if isinstance(child, ast.AST):
                            self.parents[id(child)] = (node, name, i)
                elif isinstance(value, ast.AST):
                    self.parents[id(value)] = (node, name, None)
            if isinstance(node, ast.Module | ast.ClassDef | _Function) and _has_docstring(node):
                self.docstrings.add(id(node.body[0]))
                self.docstrings.add(id(node.body[0].value))
            if isinstance(node, _Function):
                # Outer functions come first in walk order, so inner ones overwrite: innermost.
                for inner in ast.walk(node):
                    if inner is not node:
                        self.func_of[id(inner)] = node
        self._locals: dict[int, list[str]] = {}

    def locals_of(self, func: _Function) -> list[str]:
        if id(func) not in self._locals:
            a = func.args
            names = {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
            names |= {
                n.id
                for n in ast.walk(func)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            self._locals[id(func)] = sorted(names - {"self", "cls"})
        return self._locals[id(func)]

    def replace(self, node: ast.AST, new: ast.AST | None) -> None:
        """Put `new` where `node` is (None removes a statement; an emptied body gets `pass`)."""
        parent, name, index = self.parents[id(node)]
        if index is None:
            setattr(parent, name, new)
            return
        seq = getattr(parent, name)
        if new is None:
            del seq[index]
            if not seq:
                seq.append(ast.Pass())
        else:
            seq[index] = new


def _has_docstring(node: ast.AST) -> bool:
    body = getattr(node, "body", None)
    return bool(
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )


def _is_int(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int)
        and not isinstance(node.value, bool)
    )


def _shift(expr: ast.expr, delta: int) -> ast.expr:
    """`expr + delta`, folding constants and undoing an existing `± 1`."""
    if _is_int(expr):
        return ast.Constant(expr.value + delta)
    undoes = isinstance(expr, ast.BinOp) and (
        (isinstance(expr.op, ast.Sub) and delta == 1)
        or (isinstance(expr.op, ast.Add) and delta == -1)
    )
    if undoes and _is_int(expr.right) and expr.right.value == 1:
        return expr.left
    op = ast.Add() if delta > 0 else ast.Sub()
    return ast.BinOp(left=expr, op=op, right=ast.Constant(abs(delta)))


def _src(node: ast.AST, limit: int = 60) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _final_return(func: _Function) -> tuple[list[ast.stmt], ast.Return | None]:
    body = func.body[1:] if _has_docstring(func) else func.body
    last = body[-1] if body else None
    value_return = isinstance(last, ast.Return) and last.value is not None
    return body, last if value_return else None


def _loops_in(func: _Function, ctx: _Context) -> list[ast.For | ast.While]:
    return [
        n
        for n in ast.walk(func)
        if isinstance(n, ast.For | ast.While) and ctx.func_of.get(id(n)) is func
    ]


# --- sites: which variants each operator has at a node --------------------------------------


def _sites(op: str, node: ast.AST, ctx: _Context) -> Iterator[Any]:
    if op == "flip_comparison" and isinstance(node, ast.Compare):
        yield from (i for i, o in enumerate(node.ops) if type(o) in _FLIP)
    elif op == "off_by_one":
        yield from _off_by_one_sites(node)
    elif op == "swap_operands":
        if isinstance(node, ast.BinOp) and isinstance(node.op, _NON_COMMUTATIVE):
            if ast.dump(node.left) != ast.dump(node.right):
                yield "binop"
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            a, b = node.args[:2]
            starred = isinstance(a, ast.Starred) or isinstance(b, ast.Starred)
            if not starred and ast.dump(a) != ast.dump(b):
                yield "args"
    elif op == "wrong_operator":
        if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _WRONG_OP:
            yield "op"
        elif isinstance(node, ast.BoolOp):
            yield "bool"
    elif op == "wrong_variable":
        func = ctx.func_of.get(id(node))
        if func and isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names = ctx.locals_of(func)
            if node.id in names:
                yield from (n for n in names if n != node.id)
    elif op == "drop_statement":
        if (
            isinstance(node, _DROPPABLE)
            and id(node) in ctx.func_of
            and id(node) not in ctx.docstrings
            and ctx.parents[id(node)][2] is not None
        ):
            yield 0
    elif op == "change_constant" and isinstance(node, ast.Constant):
        if id(node) in ctx.docstrings:
            return
        if isinstance(node.value, bool):
            yield not node.value
        elif isinstance(node.value, int):
            yield from (node.value + 1, node.value - 1)
    elif op == "invert_condition":
        if isinstance(node, ast.If | ast.IfExp | ast.While):
            if not (isinstance(node.test, ast.Constant) and node.test.value is True):
                yield "test"
        elif isinstance(node, ast.comprehension):
            yield from range(len(node.ifs))
    elif op == "early_return" and isinstance(node, _Function):
        body, ret = _final_return(node)
        # Before statement i (never right before the final return: that changes nothing).
        yield from (("before", i) for i in range(1, len(body) - (1 if ret else 0)))
        if ret is not None:
            yield from (("loop", k) for k in range(len(_loops_in(node, ctx))))


def _off_by_one_sites(node: ast.AST) -> Iterator[Any]:
    if isinstance(node, ast.Compare):
        yield from (("cmp", i) for i, o in enumerate(node.ops) if type(o) in _BOUNDARY)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        if _is_int(node.right) and node.right.value == 1:
            yield ("drop_one",)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "range" and 1 <= len(node.args) <= 3 and not node.keywords:
            for pos in range(min(len(node.args), 2)):
                yield from (("range", pos, d) for d in (1, -1))
    elif isinstance(node, ast.Subscript):
        s = node.slice
        if isinstance(s, ast.Slice):
            for bound in ("lower", "upper"):
                if getattr(s, bound) is not None:
                    yield from (("slice", bound, d) for d in (1, -1))
        elif not (isinstance(s, ast.Constant) and isinstance(s.value, str)) and not isinstance(
            s, ast.Tuple
        ):
            yield from (("index", d) for d in (1, -1))


# --- edits: plant the bug on a fresh copy, describe it --------------------------------------


def _apply(op: str, node: Any, variant: Any, ctx: _Context) -> str:
    before = _src(node)
    if op == "flip_comparison":
        node.ops[variant] = _FLIP[type(node.ops[variant])]()
    elif op == "off_by_one":
        return _apply_off_by_one(node, variant, ctx)
    elif op == "swap_operands":
        if variant == "binop":
            node.left, node.right = node.right, node.left
        else:
            node.args[0], node.args[1] = node.args[1], node.args[0]
    elif op == "wrong_operator":
        if variant == "bool":
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        else:
            node.op = _WRONG_OP[type(node.op)]()
    elif op == "wrong_variable":
        node.id = variant
    elif op == "drop_statement":
        ctx.replace(node, None)
        return f"removed `{before}`"
    elif op == "change_constant":
        node.value = variant
    elif op == "invert_condition":
        old = node.test if variant == "test" else node.ifs[variant]
        if variant == "test":
            node.test = _negate(old)
        else:
            node.ifs[variant] = _negate(old)
        return f"condition `{_src(old)}` → `{_src(_negate(old))}`"
    elif op == "early_return":
        return _apply_early_return(node, variant, ctx)
    return f"`{before}` → `{_src(node)}`"


def _negate(test: ast.expr) -> ast.expr:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    return ast.UnaryOp(op=ast.Not(), operand=test)


def _apply_off_by_one(node: Any, variant: tuple, ctx: _Context) -> str:
    before = _src(node)
    kind = variant[0]
    if kind == "cmp":
        node.ops[variant[1]] = _BOUNDARY[type(node.ops[variant[1]])]()
    elif kind == "drop_one":
        ctx.replace(node, node.left)
        return f"`{before}` → `{_src(node.left)}`"
    elif kind == "range":
        _, pos, delta = variant
        node.args[pos] = _shift(node.args[pos], delta)
    elif kind == "slice":
        _, bound, delta = variant
        setattr(node.slice, bound, _shift(getattr(node.slice, bound), delta))
    else:
        node.slice = _shift(node.slice, variant[1])
    return f"`{before}` → `{_src(node)}`"


def _apply_early_return(func: _Function, variant: tuple, ctx: _Context) -> str:
    body, ret = _final_return(func)
    new = copy.deepcopy(ret) if ret is not None else ast.Return(value=None)
    if variant[0] == "before":
        anchor = body[variant[1]]
        where = f"before `{_src(anchor, 40)}`"
    else:
        loop = _loops_in(func, ctx)[variant[1]]
        head = loop.target if isinstance(loop, ast.For) else loop.test
        anchor = None
        loop.body.append(new)
        where = f"at the end of the loop over `{_src(head, 30)}`"
    if anchor is not None:
        func.body.insert(func.body.index(anchor), new)
    return f"inserted `{_src(new)}` {where} in {func.name}()"


# --- public API -----------------------------------------------------------------------------


def find_mutations(tree: ast.Module, ops: tuple[str, ...] = OPERATORS) -> list[Mutation]:
    """Every mutation of `tree` by the given operators, in a fixed order (walk order, op)."""
    ctx = _Context(tree)
    out = []
    for index, node in enumerate(ctx.nodes):
        func = ctx.func_of.get(id(node))
        for op in ops:
            for variant in _sites(op, node, ctx):
                out.append(Mutation(op, index, variant, func.name if func else None))
    return out


def apply_mutation(tree: ast.Module, mutation: Mutation) -> tuple[ast.Module, str]:
    """A mutated deep copy of `tree` and a one-line description of the change."""
    mutant = copy.deepcopy(tree)
    ctx = _Context(mutant)
    what = _apply(mutation.op, ctx.nodes[mutation.node], mutation.variant, ctx)
    ast.fix_missing_locations(mutant)
    return mutant, what


def normalise(source: str) -> str:
    """Source in a canonical form (formatting and comments gone), for spotting duplicates."""
    return ast.unparse(ast.parse(source))
