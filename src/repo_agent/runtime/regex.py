"""grep patterns: Python regex syntax and meaning, matched by RE2 in linear time.

A pattern is parsed by Python's own parser, then written out in RE2 syntax so that it means
on one line (grep searches line by line, so a line holds no "\n") what Python's `re` means:
\w \d \s and their negations become the exact character sets Python uses (Unicode unless
(?a)), `$` and `\Z` the end of the line. One difference remains: RE2's \b and \B see only
ASCII letters and digits as word characters, so next to a non-ASCII letter they can differ.
Python-only constructs with no linear-time equivalent are refused. The parser is CPython's
private `re._parser`: re-check this module when Python is upgraded (tests/runtime/test_tools.py
compares it with `re` on every builtin task).
"""

from __future__ import annotations

import functools
import re
import sys
from array import array
from re import _constants as sre
from re import _parser as sre_parse
from typing import Any

import re2

from repo_agent.runtime.workspace import WorkspaceError

_UNSUPPORTED = {
    sre.GROUPREF: "a backreference",
    sre.GROUPREF_EXISTS: "a conditional group",
    sre.ASSERT: "a lookahead or lookbehind",
    sre.ASSERT_NOT: "a lookahead or lookbehind",
    sre.ATOMIC_GROUP: "an atomic group",
    sre.POSSESSIVE_REPEAT: "a possessive quantifier",
}
_ANCHORS = {
    sre.AT_BEGINNING: "^",
    sre.AT_BEGINNING_STRING: r"\A",
    sre.AT_END: "$",
    sre.AT_END_STRING: r"\z",
    sre.AT_BOUNDARY: r"\b",
    sre.AT_NON_BOUNDARY: r"\B",
}
_CATEGORIES = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
}
MAX_RE2_REPEAT = 1000  # RE2 refuses larger counted repetitions


class _Unsupported(Exception):
    pass


@functools.cache
def _code_points() -> tuple[str, str]:
    """Every code point but the surrogates, as two strings (below and above them)."""
    codec = f"utf-32-{sys.byteorder[0]}e"  # the array holds native-order 32-bit values
    low, high = array("I", range(0xD800)), array("I", range(0xE000, 0x110000))
    return low.tobytes().decode(codec), high.tobytes().decode(codec)


@functools.cache
def _category_set(category: str, ascii_only: bool) -> str:
    """The members of a Python class escape like \\w as RE2 class ranges, found by Python."""
    run = re.compile(category + "+", re.ASCII if ascii_only else 0)
    low, high = _code_points()
    return "".join(
        f"{_char(start + m.start())}-{_char(start + m.end() - 1)}"
        for start, chars in ((0, low), (0xE000, high))
        for m in run.finditer(chars)
    )


def _char(code: int) -> str:
    return chr(code) if code < 128 and chr(code).isalnum() else f"\\x{{{code:x}}}"


# A class holding just the two cases of a letter is turned by RE2 into a case-folded literal,
# which also matches the Kelvin sign for k and the long s for s; "\n" (never in a line) keeps
# such a class a plain class.
_PLAIN_CLASS = "\\x{a}"


def _chars(code: int, ascii_fold: bool) -> str:
    """One character as class items: both cases of an ASCII letter under ASCII-only folding."""
    c = chr(code)
    if ascii_fold and c.isascii() and c.isalpha():
        return _char(code) + _char(ord(c.swapcase())) + _PLAIN_CLASS
    return _char(code)


def _emit(items: Any, ascii_only: bool, fold: bool) -> str:
    """RE2 text for parsed `items`. Case folding under (?a) is done here (ASCII letters only,
    as Python does); otherwise by RE2's (?i), whose lexical state is `fold and not ascii_only`."""
    ascii_fold = fold and ascii_only
    out = []
    for op, av in items:
        if op == sre.LITERAL:
            chars = _chars(av, ascii_fold)
            out.append(chars if len(chars) == len(_char(av)) else f"[{chars}]")
        elif op == sre.NOT_LITERAL:
            out.append(f"[^{_chars(av, ascii_fold)}]")
        elif op == sre.ANY:
            out.append(".")  # no "\n" in a line, so DOTALL changes nothing
        elif op == sre.IN:
            negate = bool(av) and av[0][0] == sre.NEGATE
            body = "".join(_class_item(o, a, ascii_only, ascii_fold) for o, a in av[negate:])
            out.append(f"[{'^' if negate else ''}{body}]")
        elif op == sre.BRANCH:
            out.append("(?:" + "|".join(_emit(b, ascii_only, fold) for b in av[1]) + ")")
        elif op == sre.SUBPATTERN:
            _group, add, remove, sub = av
            inner_ascii = (ascii_only or bool(add & re.ASCII)) and not add & re.UNICODE
            inner_fold = (fold or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            was, now = fold and not ascii_only, inner_fold and not inner_ascii
            flags = "" if was == now else "i" if now else "-i"
            out.append(f"(?{flags}:{_emit(sub, inner_ascii, inner_fold)})")
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, sub = av
            if low > MAX_RE2_REPEAT or (high != sre.MAXREPEAT and high > MAX_RE2_REPEAT):
                raise _Unsupported(f"a repetition count above {MAX_RE2_REPEAT}")
            count = f"{{{low},}}" if high == sre.MAXREPEAT else f"{{{low},{high}}}"
            lazy = "?" if op == sre.MIN_REPEAT else ""
            out.append(f"(?:{_emit(sub, ascii_only, fold)}){count}{lazy}")
        elif op == sre.AT:
            out.append(_ANCHORS[av])
        else:
            raise _Unsupported(_UNSUPPORTED.get(op, f"the construct {op}"))
    return "".join(out)


def _class_item(op: Any, av: Any, ascii_only: bool, ascii_fold: bool) -> str:
    if op == sre.LITERAL:
        return _chars(av, ascii_fold)
    if op == sre.RANGE:
        low, high = av
        out = f"{_char(low)}-{_char(high)}"
        if ascii_fold:  # add the other case of the ASCII letters in the range
            for first, last, shift in ((0x61, 0x7A, -32), (0x41, 0x5A, 32)):
                a, b = max(low, first), min(high, last)
                if a <= b:
                    out += f"{_char(a + shift)}-{_char(b + shift)}{_PLAIN_CLASS}"
        return out
    if op == sre.CATEGORY and av in _CATEGORIES:
        return _category_set(_CATEGORIES[av], ascii_only)
    raise _Unsupported(f"the class item {op} {av}")


@functools.lru_cache(maxsize=64)
def compile_pattern(pattern: str) -> re2._Regexp:
    """A Python regular expression compiled for grep by RE2 (linear time in the line length).

    It matches a line (no "\\n" in it) as `re.search` would, save \\b/\\B next to non-ASCII
    letters; backreferences, lookaround, atomic groups and possessive quantifiers raise
    WorkspaceError.
    """
    try:
        flags = re.compile(pattern).flags
        tree = sre_parse.parse(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        raise WorkspaceError(f"invalid regular expression {pattern!r}: {exc}") from exc
    try:
        ascii_only, fold = bool(flags & re.ASCII), bool(flags & re.IGNORECASE)
        body = ("(?i)" if fold and not ascii_only else "") + _emit(tree, ascii_only, fold)
    except _Unsupported as exc:
        raise WorkspaceError(
            f"the pattern uses {exc}, a feature the linear-time regex engine of grep does not "
            "support; rewrite the pattern without it"
        ) from exc
    except RecursionError as exc:
        raise WorkspaceError(f"invalid regular expression {pattern!r}: nested too deeply") from exc
    options = re2.Options()  # RE2's default 8 MiB budget: bigger programs are refused
    options.log_errors = False
    try:
        return re2.compile(body, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise WorkspaceError(f"grep cannot run the pattern {pattern!r}: {reason}") from exc
