"""JSON schemas of the tool protocol, made from the tool specs, for constrained decoding.

- `action_schema`: what a local grammar engine enforces: an `anyOf` over the four tool calls
  and the final, `const` names, typed args, no extra keys, bounded strings and integers.
- `strict_response_format` / `strict_tools`: OpenAI's strict forms (json protocol: a
  `response_format`; native protocol: strict functions plus a `final` function). Strict mode
  wants an object at the root, every property required (an optional one is nullable) and no
  length bounds, so replies come back wrapped or with nulls; `unwrap_strict_*` turn them back
  into the protocol's own shape.
"""

from __future__ import annotations

import json
from typing import Any

from repo_agent.records import FunctionCall, Message, NativeToolCall
from repo_agent.runtime.protocol import DuplicateKeyError, load_json
from repo_agent.runtime.tools import THOUGHT, TOOLS, ArgSpec, ToolSpec

JSON_TYPES = {str: "string", int: "integer"}
MAX_INT = 1_000_000  # integer args (max_chars, max_hits) the grammar allows
FINAL_TOOL = "final"  # the function a strict native reply calls to finish
STRICT_NAME = "action"


def _bounded(arg: ArgSpec, max_chars: int) -> dict[str, Any]:
    if arg.type is int:
        return {"type": "integer", "minimum": 0, "maximum": MAX_INT}
    return {"type": "string", "maxLength": max_chars}


def _closed(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def action_schema(max_string_chars: int = 200, max_content_chars: int = 2000) -> dict[str, Any]:
    """The protocol's action as one JSON schema, in the key order `render_action` writes.

    Strings are bounded (`content` by `max_content_chars`, every other string by
    `max_string_chars`) so that an untrained model cannot fill the token budget inside one.

    >>> [b["properties"]["type"]["const"] for b in action_schema()["anyOf"]][-2:]
    ['tool_call', 'final']
    """
    branches = []
    for spec in TOOLS.values():
        args = {
            a.name: _bounded(a, max_content_chars if a.name == "content" else max_string_chars)
            for a in (*spec.args, THOUGHT)
        }
        required = [a.name for a in spec.args if a.required]
        branches.append(
            _closed(
                {
                    "type": {"const": "tool_call"},
                    "name": {"const": spec.name},
                    "args": _closed(args, required),
                },
                ["type", "name", "args"],
            )
        )
    final = {
        "type": {"const": "final"},
        "summary": {"type": "string", "maxLength": max_string_chars},
    }
    branches.append(_closed(final, ["type", "summary"]))
    return {"anyOf": branches}


def _strict_args(spec: ToolSpec) -> dict[str, Any]:
    props = {}
    for arg in (*spec.args, THOUGHT):
        kind = JSON_TYPES[arg.type]
        props[arg.name] = {
            "type": kind if arg.required else [kind, "null"],
            "description": arg.description,
        }
    return _closed(props, list(props))


def strict_response_format() -> dict[str, Any]:
    """`response_format` for the json protocol under OpenAI's strict structured outputs: the
    action under one key (a strict root must be an object, not an `anyOf`)."""
    branches = [
        _closed(
            {
                "type": {"type": "string", "enum": ["tool_call"]},
                "name": {"type": "string", "enum": [spec.name]},
                "args": _strict_args(spec),
            },
            ["type", "name", "args"],
        )
        for spec in TOOLS.values()
    ]
    final = {"type": {"type": "string", "enum": ["final"]}, "summary": {"type": "string"}}
    branches.append(_closed(final, ["type", "summary"]))
    schema = _closed({STRICT_NAME: {"anyOf": branches}}, [STRICT_NAME])
    return {
        "type": "json_schema",
        "json_schema": {"name": STRICT_NAME, "strict": True, "schema": schema},
    }


def strict_tools() -> list[dict[str, Any]]:
    """The four tools as strict functions, plus `final(summary)`: with `tool_choice="required"`
    a plain-text reply (how a native run ends) is impossible, so finishing is a call too."""
    tools = [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "strict": True,
                "parameters": _strict_args(spec),
            },
        }
        for spec in TOOLS.values()
    ]
    summary = {"summary": {"type": "string", "description": "what was fixed, briefly"}}
    tools.append(
        {
            "type": "function",
            "function": {
                "name": FINAL_TOOL,
                "description": "Finish the task (after writing the fix) with a short summary.",
                "strict": True,
                "parameters": _closed(summary, ["summary"]),
            },
        }
    )
    return tools


def _without_nulls(args: Any) -> Any:
    if isinstance(args, dict):
        return {k: v for k, v in args.items() if v is not None}
    return args


def unwrap_strict_content(content: str) -> str:
    """The action inside a strict json-protocol reply (`{"action": {...}}`), with null args
    (omitted optional ones) dropped; any other text is returned unchanged for the protocol to
    judge.

    >>> unwrap_strict_content('{"action": {"type": "tool_call", "name": "list_files", '
    ...     '"args": {"rel_dir": null, "thought": null}}}')
    '{"type": "tool_call", "name": "list_files", "args": {}}'
    """
    try:
        obj = load_json(content)
    except (DuplicateKeyError, ValueError, RecursionError):
        return content
    if not (isinstance(obj, dict) and list(obj) == [STRICT_NAME]):
        return content
    action = obj[STRICT_NAME]
    if isinstance(action, dict) and "args" in action:
        action = {**action, "args": _without_nulls(action["args"])}
    return json.dumps(action, ensure_ascii=False)


def unwrap_strict_native(message: Message) -> Message:
    """A strict native reply in the protocol's shape: a lone `final` call becomes the plain
    summary message, and null arguments are dropped from tool calls."""
    calls = message.tool_calls or []
    if len(calls) == 1 and calls[0].function.name == FINAL_TOOL:
        try:
            args = load_json(calls[0].function.arguments or "{}")
        except (DuplicateKeyError, ValueError, RecursionError):
            return message
        if isinstance(args, dict) and isinstance(args.get("summary"), str):
            return Message(role="assistant", content=args["summary"])
        return message
    fixed = []
    for call in calls:
        try:
            args = load_json(call.function.arguments or "{}")
        except (DuplicateKeyError, ValueError, RecursionError):
            fixed.append(call)
            continue
        arguments = json.dumps(_without_nulls(args), ensure_ascii=False)
        fixed.append(
            NativeToolCall(
                id=call.id, function=FunctionCall(name=call.function.name, arguments=arguments)
            )
        )
    return message.model_copy(update={"tool_calls": fixed or None})
