"""The strict JSON tool protocol: prompts, parsing assistant output, rendering observations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from repo_agent.records import Action, FinalAction, Message, ToolCallAction
from repo_agent.runtime.config import ToolProtocol
from repo_agent.runtime.tools import THOUGHT, TOOLS

TOOL_RESULT_PREFIX = "[tool_result]"
PROTOCOL_ERROR_PREFIX = "[protocol_error]"
REFLECTION_PREFIX = "[reflection]"

EXPECTED_SHAPE = (
    '{"type":"tool_call","name":"read_file","args":{"rel_path":"a.py"}} '
    'or {"type":"final","summary":"..."}'
)

# Short on purpose: every SFT row and every student step pays for it in tokens.
SYSTEM_PROMPT_JSON = (
    "Fix the bug. Reply with one JSON object only: "
    '{"type":"tool_call","name":N,"args":{...}} or {"type":"final","summary":S}. '
    "Tools: list_files(rel_dir) read_file(rel_path,max_chars) grep(pattern,rel_dir,max_hits) "
    'write_file(rel_path,content). Args may add "thought".'
)

SYSTEM_PROMPT_NATIVE = (
    "You fix bugs in a small repository using the provided tools (list_files, read_file, grep, "
    "write_file). Call exactly one tool per message. Explore, grep to localise, read the file, "
    "write the complete fixed file, then reply with a short summary and no tool call."
)


class ParseErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    NOT_ONE_OBJECT = "not_one_object"
    BAD_TYPE = "bad_type"
    UNKNOWN_TOOL = "unknown_tool"
    MISSING_ARG = "missing_arg"
    BAD_ARG_TYPE = "bad_arg_type"
    UNKNOWN_ARG = "unknown_arg"
    BAD_SUMMARY = "bad_summary"
    EMPTY = "empty"
    DUPLICATE_KEY = "duplicate_key"
    TRUNCATED = "truncated"  # the reply hit the token budget before it was complete


@dataclass(frozen=True)
class ParseError:
    code: ParseErrorCode
    detail: str

    def message(self) -> str:
        """The short corrective user message sent back to the policy."""
        return (
            f"{PROTOCOL_ERROR_PREFIX} {self.code.value}: {self.detail}. "
            f"Reply with exactly one JSON object, e.g. {EXPECTED_SHAPE}"
        )


def system_prompt(protocol: ToolProtocol) -> str:
    return SYSTEM_PROMPT_JSON if protocol == "json" else SYSTEM_PROMPT_NATIVE


def goal_message(goal: str) -> str:
    return f"Task: {goal}"


def validate_action_object(obj: Any) -> Action | ParseError:
    """Check a decoded object against the protocol's hard constraints.

    >>> validate_action_object({"type": "final", "summary": "done"})
    FinalAction(type='final', summary='done')
    """
    if not isinstance(obj, dict):
        return ParseError(ParseErrorCode.NOT_ONE_OBJECT, "the reply must be a JSON object")
    kind = obj.get("type")
    if kind == "final":
        extra = set(obj) - {"type", "summary"}
        if extra:
            return ParseError(ParseErrorCode.UNKNOWN_ARG, f"unexpected keys {sorted(extra)}")
        summary = obj.get("summary")
        if not isinstance(summary, str):
            return ParseError(ParseErrorCode.BAD_SUMMARY, "a final needs a string 'summary'")
        return FinalAction(summary=summary)
    if kind != "tool_call":
        return ParseError(
            ParseErrorCode.BAD_TYPE, f"'type' must be 'tool_call' or 'final', got {kind!r}"
        )
    extra = set(obj) - {"type", "name", "args"}
    if extra:
        return ParseError(ParseErrorCode.UNKNOWN_ARG, f"unexpected keys {sorted(extra)}")
    return validate_tool_call(obj.get("name"), obj.get("args", {}))


def validate_tool_call(name: Any, args: Any) -> ToolCallAction | ParseError:
    """Check tool name and arguments: allowed tool, required keys, types, no unknown keys."""
    if not isinstance(name, str) or name not in TOOLS:
        return ParseError(
            ParseErrorCode.UNKNOWN_TOOL, f"unknown tool {name!r}; allowed: {', '.join(TOOLS)}"
        )
    if not isinstance(args, dict):
        return ParseError(ParseErrorCode.BAD_ARG_TYPE, "'args' must be a JSON object")
    spec = TOOLS[name]
    for arg in spec.args:
        if arg.required and arg.name not in args:
            return ParseError(ParseErrorCode.MISSING_ARG, f"{name} needs '{arg.name}'")
    for key, value in args.items():
        arg = spec.arg(key) or (THOUGHT if key == THOUGHT.name else None)
        if arg is None:
            return ParseError(ParseErrorCode.UNKNOWN_ARG, f"{name} has no argument {key!r}")
        ok = isinstance(value, arg.type) and not (arg.type is int and isinstance(value, bool))
        if not ok:
            return ParseError(ParseErrorCode.BAD_ARG_TYPE, f"'{key}' must be {arg.type.__name__}")
    return ToolCallAction(name=name, args=dict(args))


class DuplicateKeyError(Exception):
    """A JSON object names one key twice: which value was meant is ambiguous (json.loads would
    silently keep the last, so `{"type":"final","type":"tool_call"}` would pass as a call)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKeyError(key)
        obj[key] = value
    return obj


def load_json(text: str) -> Any:
    """json.loads that also rejects what a trace cannot record: lone surrogates ("\\ud800"), and
    duplicate keys at any level (DuplicateKeyError)."""
    obj = json.loads(text, object_pairs_hook=_unique_keys)
    json.dumps(obj, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError is a ValueError
    return obj


def _duplicate(exc: DuplicateKeyError) -> ParseError:
    return ParseError(ParseErrorCode.DUPLICATE_KEY, f"the key {exc.key!r} appears twice")


def parse_json_action(content: str | None) -> Action | ParseError:
    """Parse assistant content under the `json` protocol.

    >>> parse_json_action('{"type":"tool_call","name":"list_files","args":{}}').name
    'list_files'
    >>> parse_json_action('{"type":"tool_call"').code.value
    'invalid_json'
    >>> parse_json_action('{"type":"final","type":"tool_call","summary":"x"}').code.value
    'duplicate_key'
    """
    text = (content or "").strip()
    if not text:
        return ParseError(ParseErrorCode.EMPTY, "the reply was empty")
    try:
        obj = load_json(text)
    except DuplicateKeyError as exc:
        return _duplicate(exc)
    except (ValueError, RecursionError):  # ValueError: also huge ints and lone surrogates
        return _diagnose_bad_json(text)
    return validate_action_object(obj)


def _diagnose_bad_json(text: str) -> ParseError:
    start = text.find("{")
    if start >= 0:
        try:
            obj, end = json.JSONDecoder().raw_decode(text, start)
        except (ValueError, RecursionError):
            pass
        else:
            if isinstance(obj, dict) and (start > 0 or text[end:].strip()):
                return ParseError(
                    ParseErrorCode.NOT_ONE_OBJECT,
                    "found text outside the JSON object; send the object alone",
                )
    return ParseError(ParseErrorCode.INVALID_JSON, "the reply is not valid JSON")


def parse_native_action(message: Message) -> Action | ParseError:
    """Parse an assistant message under the `native` (function-calling) protocol."""
    calls = message.tool_calls or []
    if not calls:
        if (message.content or "").strip():
            return FinalAction(summary=message.content or "")
        return ParseError(ParseErrorCode.EMPTY, "no tool call and no summary")
    if len(calls) > 1:
        return ParseError(ParseErrorCode.NOT_ONE_OBJECT, "call exactly one tool per message")
    call = calls[0]
    try:
        args = load_json(call.function.arguments or "{}")
    except DuplicateKeyError as exc:
        return _duplicate(exc)
    except (ValueError, RecursionError):
        return ParseError(ParseErrorCode.INVALID_JSON, "tool arguments are not valid JSON")
    return validate_tool_call(call.function.name, args)


def parse_action(message: Message, protocol: ToolProtocol) -> Action | ParseError:
    if protocol == "json":
        return parse_json_action(message.content)
    return parse_native_action(message)


def render_action(action: Action) -> str:
    """Canonical JSON text of an action (what the teacher writes under the json protocol)."""
    if isinstance(action, FinalAction):
        return json.dumps({"type": "final", "summary": action.summary})
    return json.dumps({"type": "tool_call", "name": action.name, "args": action.args})


def action_message(action: Action, protocol: ToolProtocol, call_id: str = "call_0") -> Message:
    """The assistant message that carries `action` under `protocol`."""
    if protocol == "json" or isinstance(action, FinalAction):
        if protocol == "native" and isinstance(action, FinalAction):
            return Message(role="assistant", content=action.summary)
        return Message(role="assistant", content=render_action(action))
    return Message(
        role="assistant",
        content="",
        tool_calls=[
            {
                "id": call_id,
                "type": "function",
                "function": {"name": action.name, "arguments": json.dumps(action.args)},
            }
        ],
    )


def observation_messages(
    protocol: ToolProtocol, tool_name: str, text: str, call_id: str | None
) -> list[Message]:
    """Messages that carry a tool's result back to the policy."""
    if protocol == "native" and call_id is not None:
        return [Message(role="tool", tool_call_id=call_id, content=text)]
    return [Message(role="user", content=f"{TOOL_RESULT_PREFIX} {tool_name}\n{text}")]


def error_messages(protocol: ToolProtocol, reply: Message, text: str) -> list[Message]:
    """Messages that answer a refused reply: function-calling APIs require an answer to every
    tool call id."""
    if protocol == "native" and reply.tool_calls:
        return [Message(role="tool", tool_call_id=c.id, content=text) for c in reply.tool_calls]
    return [Message(role="user", content=text)]


def fit_context(messages: list[Message], max_chars: int) -> list[Message]:
    """Drop the oldest steps (whole assistant turns) until the conversation fits max_chars.

    The system and the goal messages are always kept; what remains starts at an assistant turn,
    so roles still alternate.
    """

    def size(ms: list[Message]) -> int:
        return sum(
            len(m.content or "") + len(json.dumps([c.model_dump() for c in m.tool_calls]))
            if m.tool_calls
            else len(m.content or "")
            for m in ms
        )

    head, tail = messages[:2], messages[2:]
    while tail and size(head) + size(tail) > max_chars:
        nxt = next((i for i in range(1, len(tail)) if tail[i].role == "assistant"), len(tail))
        if nxt >= len(tail):
            break  # keep the latest turn even if it alone is too long
        tail = tail[nxt:]
    return head + tail


def parse_observation(message: Message) -> tuple[str, str] | None:
    """(tool_name, text) for a json-protocol tool-result user message, else None."""
    content = message.content or ""
    if message.role != "user" or not content.startswith(TOOL_RESULT_PREFIX):
        return None
    first, _, rest = content.partition("\n")
    return first[len(TOOL_RESULT_PREFIX) :].strip(), rest


def executed_calls(
    messages: list[Message], protocol: ToolProtocol
) -> list[tuple[ToolCallAction, str]]:
    """The tool calls in a conversation that were executed, each with its observation text.

    Calls answered by a protocol error or a loop reflection were not executed and are skipped.
    """
    out: list[tuple[ToolCallAction, str]] = []
    for i, msg in enumerate(messages):
        if msg.role != "assistant" or i + 1 >= len(messages):
            continue
        action = parse_action(msg, protocol)
        if not isinstance(action, ToolCallAction):
            continue
        nxt = messages[i + 1]
        parsed = (action.name, nxt.content or "") if nxt.role == "tool" else parse_observation(nxt)
        if parsed is None or parsed[0] != action.name or parsed[1].startswith(REFLECTION_PREFIX):
            continue
        out.append((action, parsed[1]))
    return out
