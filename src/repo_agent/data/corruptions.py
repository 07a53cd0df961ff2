"""Synthetic corruptions of a teacher action: the non-preferred side of a preference pair.

Each is a pure function (state, teacher action, rng) → assistant content, or None when it does
not apply to that state.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from repo_agent.records import Action, FinalAction, Message, ToolCallAction
from repo_agent.runtime.config import ToolProtocol
from repo_agent.runtime.protocol import (
    ParseError,
    action_message,
    executed_calls,
    parse_json_action,
    render_action,
)
from repo_agent.runtime.tools import TOOLS

Corruption = Callable[[list[Message], Action, random.Random], str | None]


def broken_json(state: list[Message], action: Action, rng: random.Random) -> str | None:
    """Cut the JSON text short.

    >>> broken_json([], FinalAction(summary="ok"), random.Random(0)).endswith("}")
    False
    """
    text = render_action(action)
    cut = rng.randint(max(1, len(text) // 3), len(text) - 1)
    return text[:cut]


def unknown_tool(state: list[Message], action: Action, rng: random.Random) -> str | None:
    name = rng.choice(["run_tests", "edit_file", "open", "bash", "search"])
    args = action.args if isinstance(action, ToolCallAction) else {}
    return json.dumps({"type": "tool_call", "name": name, "args": args})


def missing_arg(state: list[Message], action: Action, rng: random.Random) -> str | None:
    if isinstance(action, ToolCallAction):
        required = [a.name for a in TOOLS[action.name].args if a.required]
        if required:
            drop = rng.choice(required)
            args = {k: v for k, v in action.args.items() if k != drop}
            return json.dumps({"type": "tool_call", "name": action.name, "args": args})
    return json.dumps({"type": "tool_call", "name": "read_file", "args": {}})


def state_protocol(state: list[Message]) -> ToolProtocol:
    """`native` when the state carries function calls or tool messages, else `json`."""
    native = any(m.tool_calls or m.role == "tool" for m in state)
    return "native" if native else "json"


def _calls(state: list[Message]) -> list[ToolCallAction]:
    return [a for a, _ in executed_calls(state, state_protocol(state))]


def as_message(content: str, protocol: ToolProtocol, call_id: str = "call_bad") -> Message:
    """A corruption (JSON-protocol text) as the assistant message of `protocol`: under
    `native` a valid action becomes a function call and broken JSON becomes broken arguments."""
    if protocol == "json":
        return Message(role="assistant", content=content)
    parsed = parse_json_action(content)
    if not isinstance(parsed, ParseError):
        return action_message(parsed, "native", call_id=call_id)
    try:
        obj = json.loads(content)
    except (json.JSONDecodeError, ValueError):
        obj = None
    if isinstance(obj, dict):
        name, args = str(obj.get("name", "")), json.dumps(obj.get("args", {}))
    else:
        name, args = "read_file", content
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
    return Message(role="assistant", content="", tool_calls=[call])


def exact_repeat(state: list[Message], action: Action, rng: random.Random) -> str | None:
    calls = _calls(state)
    return render_action(calls[-1]) if calls else None


def tiny_reread(state: list[Message], action: Action, rng: random.Random) -> str | None:
    reads = [c for c in _calls(state) if c.name == "read_file"]
    if not reads:
        return None
    path = rng.choice(reads).args["rel_path"]
    args = {"rel_path": path, "max_chars": rng.choice([20, 50, 100])}
    return render_action(ToolCallAction(name="read_file", args=args))


def repeated_grep(state: list[Message], action: Action, rng: random.Random) -> str | None:
    greps = [c for c in _calls(state) if c.name == "grep"]
    return render_action(rng.choice(greps)) if greps else None


def premature_final(state: list[Message], action: Action, rng: random.Random) -> str | None:
    if any(c.name == "write_file" for c in _calls(state)) or isinstance(action, FinalAction):
        return None
    return render_action(FinalAction(summary="The bug is fixed."))


def write_before_read(state: list[Message], action: Action, rng: random.Random) -> str | None:
    calls = _calls(state)
    read = {c.args["rel_path"] for c in calls if c.name == "read_file"}
    if isinstance(action, ToolCallAction) and action.name == "write_file":
        return None
    target = None
    if isinstance(action, ToolCallAction) and action.name == "read_file":
        target = action.args["rel_path"]
    if target is None or target in read:
        return None
    return render_action(
        ToolCallAction(name="write_file", args={"rel_path": target, "content": "# fixed\n"})
    )


CORRUPTIONS: dict[str, Corruption] = {
    "broken_json": broken_json,
    "unknown_tool": unknown_tool,
    "missing_arg": missing_arg,
    "exact_repeat": exact_repeat,
    "tiny_reread": tiny_reread,
    "repeated_grep": repeated_grep,
    "premature_final": premature_final,
    "write_before_read": write_before_read,
}
