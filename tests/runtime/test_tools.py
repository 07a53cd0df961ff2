"""The four tools: their schemas, and what they return for ordinary calls."""

from __future__ import annotations

import re

import pytest
from conftest import Sandbox

from repo_agent.runtime.regex import compile_pattern
from repo_agent.runtime.tools import (
    THOUGHT,
    TOOLS,
    ToolLimits,
    execute_tool,
    openai_tool_schemas,
)
from repo_agent.runtime.workspace import WorkspaceError


def test_four_tools_with_required_args() -> None:
    assert sorted(TOOLS) == ["grep", "list_files", "read_file", "write_file"]
    required = {n: [a.name for a in s.args if a.required] for n, s in TOOLS.items()}
    assert required == {
        "list_files": [],
        "read_file": ["rel_path"],
        "grep": ["pattern"],
        "write_file": ["rel_path", "content"],
    }
    assert TOOLS["read_file"].arg("max_chars").type is int
    assert TOOLS["read_file"].arg("thought") is None  # thought is shared, not per tool
    assert THOUGHT.type is str and not THOUGHT.required


def test_openai_schemas_mirror_the_specs() -> None:
    schemas = openai_tool_schemas()
    assert [s["function"]["name"] for s in schemas] == list(TOOLS)
    for schema in schemas:
        assert schema["type"] == "function"
        fn = schema["function"]
        params = fn["parameters"]
        spec = TOOLS[fn["name"]]
        assert fn["description"] == spec.description
        assert params["type"] == "object"
        assert set(params["properties"]) == {a.name for a in spec.args} | {"thought"}
        assert params["required"] == [a.name for a in spec.args if a.required]
        for name, prop in params["properties"].items():
            arg = spec.arg(name) or THOUGHT
            assert prop["type"] == {str: "string", int: "integer"}[arg.type]
            assert prop["description"]


def test_list_files(sandbox: Sandbox) -> None:
    result = execute_tool(sandbox.ws, "list_files", {})
    assert result.ok and result.text == "README.md\npkg/mod.py\ntests/test_mod.py"
    assert execute_tool(sandbox.ws, "list_files", {"rel_dir": "tests"}).text == "tests/test_mod.py"
    assert execute_tool(sandbox.ws, "list_files", {"rel_dir": "./pkg/"}).text == "pkg/mod.py"
    assert execute_tool(sandbox.ws, "list_files", {"rel_dir": "pkg/mod.py"}).text == "pkg/mod.py"
    (sandbox.ws.root / "empty").mkdir()
    assert execute_tool(sandbox.ws, "list_files", {"rel_dir": "empty"}).text == "(no files)"


def test_list_files_limit(sandbox: Sandbox) -> None:
    result = execute_tool(sandbox.ws, "list_files", {}, ToolLimits(max_list_entries=2))
    assert result.text == "README.md\npkg/mod.py\n... (more files not shown)"


def test_thought_is_ignored_by_execution(sandbox: Sandbox) -> None:
    plain = execute_tool(sandbox.ws, "read_file", {"rel_path": "pkg/mod.py"})
    with_thought = execute_tool(
        sandbox.ws, "read_file", {"rel_path": "pkg/mod.py", "thought": "look at f"}
    )
    assert plain == with_thought


def test_grep_max_hits(sandbox: Sandbox) -> None:
    (sandbox.ws.root / "many.txt").write_text("hit\n" * 50, encoding="utf-8")
    result = execute_tool(sandbox.ws, "grep", {"pattern": "^hit$", "max_hits": 3})
    assert result.text.splitlines() == [
        "many.txt:1: hit",
        "many.txt:2: hit",
        "many.txt:3: hit",
        "(stopped at max_hits=3)",
    ]
    capped = execute_tool(
        sandbox.ws, "grep", {"pattern": "^hit$", "max_hits": 10**6}, ToolLimits(max_grep_hits=5)
    )
    assert "(stopped at max_hits=5)" in capped.text


def test_grep_in_a_subdirectory(sandbox: Sandbox) -> None:
    result = execute_tool(sandbox.ws, "grep", {"pattern": "f", "rel_dir": "tests"})
    assert result.ok and all(line.startswith("tests/") for line in result.text.splitlines())
    assert execute_tool(sandbox.ws, "grep", {"pattern": "zzz"}).text == "(no matches)"


@pytest.mark.parametrize("max_chars", [1, 5, 27, 28, 100])
def test_read_file_max_chars(sandbox: Sandbox, max_chars: int) -> None:
    text = "def f(x):\n    return x + 1\n"  # 27 chars
    result = execute_tool(
        sandbox.ws, "read_file", {"rel_path": "pkg/mod.py", "max_chars": max_chars}
    )
    if max_chars >= len(text):
        assert result.text == text
    else:
        assert (
            result.text
            == text[:max_chars] + f"\n... [truncated: {len(text) - max_chars} more chars]"
        )


def test_write_then_read_back(sandbox: Sandbox) -> None:
    assert execute_tool(
        sandbox.ws, "write_file", {"rel_path": "pkg/mod.py", "content": "f = 2\n"}
    ).ok
    assert execute_tool(sandbox.ws, "read_file", {"rel_path": "pkg/mod.py"}).text == "f = 2\n"
    assert execute_tool(sandbox.ws, "write_file", {"rel_path": "empty.py", "content": ""}).text == (
        "wrote empty.py (0 bytes)"
    )


def test_grep_skips_binary_and_huge_files(sandbox: Sandbox) -> None:
    (sandbox.ws.root / "blob.bin").write_bytes(b"needle\x00" * 10)
    (sandbox.ws.root / "huge.txt").write_text("needle\n" * 10, encoding="utf-8")
    (sandbox.ws.root / "ok.txt").write_text("a needle here\n", encoding="utf-8")
    limits = ToolLimits(max_grep_file_bytes=50)
    result = execute_tool(sandbox.ws, "grep", {"pattern": "needle"}, limits)
    assert result.ok and result.text == "ok.txt:1: a needle here"


def test_grep_hits_and_long_lines(sandbox: Sandbox) -> None:
    (sandbox.ws.root / "long.py").write_text("x = '" + "y" * 1000 + "'\n", encoding="utf-8")
    hits = execute_tool(sandbox.ws, "grep", {"pattern": r"def f\b"})
    assert hits.ok and hits.text == "pkg/mod.py:1: def f(x):"
    long = execute_tool(sandbox.ws, "grep", {"pattern": "yyy", "rel_dir": "."})
    assert long.ok and len(long.text) < 250


def test_read_truncates_and_caps_max_chars(sandbox: Sandbox) -> None:
    (sandbox.ws.root / "big.py").write_text("z" * 30_000, encoding="utf-8")
    short = execute_tool(sandbox.ws, "read_file", {"rel_path": "big.py", "max_chars": 10})
    assert short.ok and short.text == "z" * 10 + "\n... [truncated: 29990 more chars]"
    capped = execute_tool(sandbox.ws, "read_file", {"rel_path": "big.py", "max_chars": 10**9})
    assert capped.text.startswith("z" * 20_000) and "[truncated: 10000 more chars]" in capped.text
    full = execute_tool(sandbox.ws, "read_file", {"rel_path": "./pkg/mod.py"})
    assert full.ok and full.text == "def f(x):\n    return x + 1\n"


def test_write_creates_dirs_and_reports_size(sandbox: Sandbox) -> None:
    result = execute_tool(
        sandbox.ws, "write_file", {"rel_path": "new/dir/é.py", "content": "é = 1\n"}
    )
    assert result.ok and result.text == "wrote new/dir/é.py (7 bytes)"
    assert (sandbox.ws.root / "new" / "dir" / "é.py").read_text(encoding="utf-8") == "é = 1\n"
    at_limit = execute_tool(
        sandbox.ws, "write_file", {"rel_path": "max.py", "content": "x" * 200_000}
    )
    assert at_limit.ok


LINES = [
    "def area(r):",
    "    return 3.14 * r * r  ",
    "café = 1\u00a0# nbsp",
    "x\x1fy",
    "\u0663\u0664 = arabic digits",
    "ſtraße KELVIN \u212a",
    "class Élan(Base):",
    "",
    "tab\there",
]
PATTERNS = [
    r"def \w+\(",
    r"\w+é",
    r"^\s*return",
    r"\s+$",
    r"x\sy",
    r"\d\d",
    r"(?a)\d",
    r"(?a)\w+ =",
    r"(?i)STRASSE|kelvin \w",
    r"(?ai)k",
    r"(?i)ſ",
    r"(?x) class \s+ (\w+) \(",
    r"[^\W\d_]{4}",
    r"\S+\Z",
    r"^$",
    r"a.e",
    r"\u00e9|\N{NO-BREAK SPACE}",
    r"\bdef\b",
    r"(?i:ÉLAN)\(",
    r"[a-c]{2,}?",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_grep_keeps_pythons_meaning_on_a_line(sandbox: Sandbox, pattern: str) -> None:
    (sandbox.ws.root / "lines.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    result = execute_tool(sandbox.ws, "grep", {"pattern": pattern, "rel_dir": "lines.txt"})
    expected = [
        f"lines.txt:{n}: {line.strip()}"
        for n, line in enumerate(LINES, start=1)
        if re.search(pattern, line)
    ]
    assert result.ok
    assert result.text == ("\n".join(expected) if expected else "(no matches)")


def test_word_boundaries_are_ascii_in_the_linear_engine() -> None:
    # The one known difference from `re`: RE2's \b sees only ASCII word characters.
    assert re.search(r"\bfoo", "éfoo") is None
    assert compile_pattern(r"\bfoo").search("éfoo") is not None
    assert compile_pattern(r"\bfoo").search("afoo") is None


def test_unsupported_patterns_name_the_feature() -> None:
    with pytest.raises(WorkspaceError, match="uses a backreference, a feature the linear-time"):
        compile_pattern(r"(a)\1")
    with pytest.raises(WorkspaceError, match="invalid regular expression"):
        compile_pattern("(")
