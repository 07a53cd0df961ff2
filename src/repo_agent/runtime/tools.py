"""The four agent tools: their argument schemas and their execution inside a workspace."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from repo_agent.runtime.regex import compile_pattern
from repo_agent.runtime.workspace import (
    TimeLimitError,
    Workspace,
    WorkspaceError,
    check_name,
    escape_name,
)


@dataclass(frozen=True)
class ArgSpec:
    name: str
    type: type
    required: bool
    description: str


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args: tuple[ArgSpec, ...]

    def arg(self, name: str) -> ArgSpec | None:
        return next((a for a in self.args if a.name == name), None)


DEFAULT_READ_CHARS = 4000  # read_file without max_chars


def norm_rel_path(path: str) -> str:
    """A tool path as the agent meant it: "./a.py", "a.py " and "a.py" are one file.

    >>> norm_rel_path("./pkg/"), norm_rel_path("")
    ('pkg', '.')
    """
    return path.strip().removeprefix("./").rstrip("/") or "."


def truncate(text: str, max_chars: int) -> str:
    """Cut long text the same way for every reader (observations, file reads).

    >>> truncate("abcdef", 4)
    'abcd\\n... [truncated: 2 more chars]'
    """
    if len(text) <= max_chars:
        return text
    return text[:max_chars] + f"\n... [truncated: {len(text) - max_chars} more chars]"


THOUGHT = ArgSpec("thought", str, False, "optional reasoning, recorded and otherwise ignored")

TOOLS: dict[str, ToolSpec] = {
    "list_files": ToolSpec(
        "list_files",
        "List files under a directory of the repository (recursive).",
        (ArgSpec("rel_dir", str, False, "directory relative to the repo root, default '.'"),),
    ),
    "read_file": ToolSpec(
        "read_file",
        "Read a text file, up to max_chars characters.",
        (
            ArgSpec("rel_path", str, True, "file path relative to the repo root"),
            ArgSpec(
                "max_chars",
                int,
                False,
                f"maximum characters to return, default {DEFAULT_READ_CHARS}",
            ),
        ),
    ),
    "grep": ToolSpec(
        "grep",
        "Search files for a regular expression; returns path:line: text hits.",
        (
            ArgSpec("pattern", str, True, "Python regular expression"),
            ArgSpec("rel_dir", str, False, "directory to search, default '.'"),
            ArgSpec("max_hits", int, False, "maximum hits to return, default 20"),
        ),
    ),
    "write_file": ToolSpec(
        "write_file",
        "Write (create or overwrite) a text file with the full new content.",
        (
            ArgSpec("rel_path", str, True, "file path relative to the repo root"),
            ArgSpec("content", str, True, "the complete new file content"),
        ),
    ),
}


@dataclass(frozen=True)
class ToolLimits:
    default_read_chars: int = DEFAULT_READ_CHARS
    max_read_chars: int = 20000
    max_write_bytes: int = 200_000
    max_list_entries: int = 200
    default_grep_hits: int = 20
    max_grep_hits: int = 100
    max_grep_files: int = 2000
    max_grep_file_bytes: int = 1_000_000
    max_line_chars: int = 200
    max_read_file_bytes: int = 2_000_000  # read_file refuses bigger files unread
    max_tool_s: float = 10.0  # wall-clock budget of one call (grep and list_files stop)


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    text: str


def openai_tool_schemas() -> list[dict[str, Any]]:
    """The four tools as OpenAI-style function-calling schemas (for the native protocol)."""
    json_types = {str: "string", int: "integer"}
    schemas = []
    for spec in TOOLS.values():
        props = {
            a.name: {"type": json_types[a.type], "description": a.description}
            for a in (*spec.args, THOUGHT)
        }
        required = [a.name for a in spec.args if a.required]
        schemas.append(
            {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": {"type": "object", "properties": props, "required": required},
                },
            }
        )
    return schemas


def execute_tool(
    ws: Workspace,
    name: str,
    args: dict[str, Any],
    limits: ToolLimits = ToolLimits(),
    deadline: float | None = None,
) -> ToolResult:
    """Run one validated tool call; every failure becomes a ToolResult with ok=False.

    The call stops at `deadline` (a time.monotonic() value, e.g. the run's wall-time limit)
    or after `limits.max_tool_s`, whichever comes first."""
    budget = time.monotonic() + limits.max_tool_s
    deadline = budget if deadline is None else min(deadline, budget)
    try:
        for key in ("rel_path", "rel_dir"):
            check_name(args.get(key, "."))
        if name == "list_files":
            return ToolResult(True, _list_files(ws, args.get("rel_dir", "."), limits, deadline))
        if name == "read_file":
            return ToolResult(True, _read_file(ws, args["rel_path"], args.get("max_chars"), limits))
        if name == "grep":
            return ToolResult(
                True,
                _grep(
                    ws,
                    args["pattern"],
                    args.get("rel_dir", "."),
                    args.get("max_hits"),
                    limits,
                    deadline,
                ),
            )
        if name == "write_file":
            return ToolResult(True, _write_file(ws, args["rel_path"], args["content"], limits))
    except WorkspaceError as exc:
        return ToolResult(False, f"error: {exc}")
    except OSError as exc:  # e.g. a path through a file, a name too long
        where = args.get("rel_path", args.get("rel_dir", "."))
        return ToolResult(False, f"error: {where!r}: {exc.strerror or type(exc).__name__}")
    except UnicodeError:
        return ToolResult(False, "error: paths and content must be valid Unicode text")
    return ToolResult(False, f"error: unknown tool {name!r}")


def _list_files(ws: Workspace, rel_dir: str, limits: ToolLimits, deadline: float) -> str:
    stopped = ""
    try:
        files = ws.list_files(rel_dir, limits.max_list_entries + 1, deadline)
    except TimeLimitError as exc:
        files, stopped = exc.partial, "... (stopped: time limit)"
    if not files and not stopped:
        return "(no files)"
    lines = [escape_name(f) for f in files[: limits.max_list_entries]]
    if len(files) > limits.max_list_entries:
        lines.append("... (more files not shown)")
    return "\n".join(lines + ([stopped] if stopped else []))


def _read_file(ws: Workspace, rel_path: str, max_chars: int | None, limits: ToolLimits) -> str:
    if max_chars is None:
        max_chars = limits.default_read_chars
    if max_chars <= 0:
        raise WorkspaceError("max_chars must be a positive integer")
    max_chars = min(max_chars, limits.max_read_chars)
    return truncate(ws.read_text(rel_path, limits.max_read_file_bytes), max_chars)


def _grep(
    ws: Workspace,
    pattern: str,
    rel_dir: str,
    max_hits: int | None,
    limits: ToolLimits,
    deadline: float,
) -> str:
    """Hits as `path:line: text`. Out of time it returns the hits so far and a note, or an
    error when there are none (so that "(no matches)" always means a full search)."""
    regex = compile_pattern(pattern)
    if max_hits is None:
        max_hits = limits.default_grep_hits
    if max_hits <= 0:
        raise WorkspaceError("max_hits must be a positive integer")
    max_hits = min(max_hits, limits.max_grep_hits)
    try:
        files = ws.list_files(rel_dir, limits.max_grep_files + 1, deadline)
    except TimeLimitError as exc:
        raise WorkspaceError(
            f"grep ran out of time (at most {limits.max_tool_s:g}s per call) while listing "
            "files; search a smaller rel_dir"
        ) from exc
    note = ""
    if len(files) > limits.max_grep_files:
        files = files[: limits.max_grep_files]
        note = f"\n(note: searched only the first {limits.max_grep_files} files)"
    hits: list[str] = []
    for done, rel in enumerate(files):
        if time.monotonic() > deadline:
            return _out_of_time(hits, done, len(files), limits) + note
        text = ws.read_text_or_none(rel, limits.max_grep_file_bytes)
        if text is None:
            continue
        shown = escape_name(rel)
        for lineno, line in enumerate(text.splitlines(), start=1):
            if lineno % 4096 == 0 and time.monotonic() > deadline:
                return _out_of_time(hits, done, len(files), limits) + note
            if regex.search(line):
                hits.append(f"{shown}:{lineno}: {line.strip()[: limits.max_line_chars]}")
                if len(hits) >= max_hits:
                    return "\n".join(hits) + f"\n(stopped at max_hits={max_hits})" + note
    return ("\n".join(hits) if hits else "(no matches)") + note


def _out_of_time(hits: list[str], done: int, total: int, limits: ToolLimits) -> str:
    if not hits:
        raise WorkspaceError(
            f"grep ran out of time (at most {limits.max_tool_s:g}s per call) after {done} of "
            f"{total} files, with no matches so far; search a smaller rel_dir or a simpler pattern"
        )
    return "\n".join(hits) + "\n(stopped: time limit)"


def _write_file(ws: Workspace, rel_path: str, content: str, limits: ToolLimits) -> str:
    size = len(content.encode("utf-8"))
    if size > limits.max_write_bytes:
        raise WorkspaceError(f"content is {size} bytes; the limit is {limits.max_write_bytes}")
    ws.write_text(rel_path, content)
    return f"wrote {rel_path} ({size} bytes)"
