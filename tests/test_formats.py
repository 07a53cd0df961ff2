"""Dataset row formats: valid rows pass, every documented violation is a RowFormatError."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from repo_agent.formats import (
    RowFormatError,
    preference_to_trl,
    sft_to_trl,
    validate_preference_row,
    validate_sft_row,
)
from repo_agent.formats import preference_row as build_preference_row
from repo_agent.formats import sft_row as build_sft_row
from repo_agent.records import Message
from repo_agent.runtime.tools import TOOLS as TOOLS_BY_NAME
from repo_agent.runtime.tools import openai_tool_schemas

SYSTEM = {"role": "system", "content": "You fix bugs."}
GOAL = {"role": "user", "content": "Task: fix f"}
CALL = {"role": "assistant", "content": '{"type":"tool_call","name":"list_files","args":{}}'}
OBS = {"role": "user", "content": "[tool_result] list_files\na.py"}
FINAL = {"role": "assistant", "content": '{"type":"final","summary":"done"}'}
BAD = {"role": "assistant", "content": "{oops"}


def sft_row(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [dict(m) for m in messages]}


def pref_row(state: list[dict[str, Any]], good: dict[str, Any], bad: dict[str, Any]) -> dict:
    return {
        "input": {"messages": [dict(m) for m in state]},
        "preferred_output": [dict(good)],
        "non_preferred_output": [dict(bad)],
    }


VALID_PREF = pref_row([SYSTEM, GOAL, CALL, OBS], FINAL, BAD)


# --- SFT rows ---


@pytest.mark.parametrize(
    "messages",
    [
        [SYSTEM, GOAL, CALL],
        [SYSTEM, GOAL, CALL, OBS, FINAL],
        [GOAL, CALL],  # the system message is optional
    ],
    ids=["one-step", "two-steps", "no-system"],
)
def test_valid_sft_rows_pass(messages: list[dict[str, Any]]) -> None:
    parsed = validate_sft_row(sft_row(*messages))
    assert [m.role for m in parsed.messages] == [m["role"] for m in messages]


def test_native_tool_messages_are_a_valid_sft_conversation() -> None:
    call = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "c0", "type": "function", "function": {"name": "list_files", "arguments": "{}"}}
        ],
    }
    tool = {"role": "tool", "tool_call_id": "c0", "content": "a.py"}
    validate_sft_row(sft_row(SYSTEM, GOAL, call, tool, FINAL))


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ({"messages": []}, "at least 2"),
        ({}, "messages"),
        (sft_row(GOAL, SYSTEM, CALL), "system message may only come first"),
        (sft_row(SYSTEM, GOAL, GOAL, CALL), "two user messages in a row"),
        (sft_row(SYSTEM, GOAL, CALL, CALL), "two assistant messages in a row"),
        (sft_row(SYSTEM, CALL, OBS, FINAL), "must start with a user message"),
        (sft_row(SYSTEM, GOAL, CALL, OBS), "must end with the assistant action"),
        (sft_row(SYSTEM, GOAL), "must end with the assistant action"),
        (sft_row(SYSTEM, GOAL, {"role": "tool", "content": "x"}, FINAL), "tool message"),
        (sft_row(SYSTEM, {"role": "robot", "content": "x"}, CALL), "role"),
    ],
    ids=[
        "no-messages",
        "no-messages-key",
        "system-not-first",
        "two-user",
        "two-assistant",
        "assistant-first",
        "ends-with-user",
        "only-system-and-user",
        "orphan-tool",
        "unknown-role",
    ],
)
def test_invalid_sft_rows_raise(row: dict[str, Any], match: str) -> None:
    with pytest.raises(RowFormatError, match=match):
        validate_sft_row(row)


def test_sft_extra_keys_are_rejected_at_every_level() -> None:
    top = sft_row(SYSTEM, GOAL, CALL) | {"task_id": "t"}
    with pytest.raises(RowFormatError, match="task_id"):
        validate_sft_row(top)
    inner = sft_row(SYSTEM, GOAL, CALL)
    inner["messages"][2]["weight"] = 1
    with pytest.raises(RowFormatError, match="weight"):
        validate_sft_row(inner)


def test_sft_row_error_is_a_value_error() -> None:
    # Callers that only know ValueError still catch it.
    with pytest.raises(ValueError):
        validate_sft_row({"messages": []})


# --- preference rows ---


def test_valid_preference_row_passes() -> None:
    parsed = validate_preference_row(copy.deepcopy(VALID_PREF))
    assert parsed.preferred_output[0].content == FINAL["content"]
    assert parsed.non_preferred_output[0].content == BAD["content"]
    assert [m.role for m in parsed.input.messages] == ["system", "user", "assistant", "user"]


def test_preference_input_may_be_just_the_goal() -> None:
    validate_preference_row(pref_row([GOAL], CALL, BAD))


def _mutated(**changes: Any) -> dict[str, Any]:
    row = copy.deepcopy(VALID_PREF)
    row.update(changes)
    return row


@pytest.mark.parametrize(
    ("row", "match"),
    [
        (_mutated(input={"messages": []}), "at least 1"),
        (pref_row([GOAL, SYSTEM], CALL, BAD), "system message may only come first"),
        (pref_row([SYSTEM, GOAL, GOAL], CALL, BAD), "two user messages in a row"),
        (pref_row([SYSTEM, GOAL, CALL], FINAL, BAD), "must end before the assistant"),
        (_mutated(preferred_output=[FINAL, FINAL]), "at most 1"),
        (_mutated(non_preferred_output=[BAD, BAD]), "at most 1"),
        (_mutated(preferred_output=[]), "at least 1"),
        (pref_row([SYSTEM, GOAL], {"role": "user", "content": "x"}, BAD), "assistant messages"),
        (pref_row([SYSTEM, GOAL], CALL, {"role": "user", "content": "x"}), "assistant messages"),
        (pref_row([SYSTEM, CALL, OBS], FINAL, BAD), "must start with a user message"),
    ],
    ids=[
        "no-messages",
        "system-not-first",
        "two-user",
        "input-ends-with-assistant",
        "two-preferred",
        "two-non-preferred",
        "no-preferred",
        "user-preferred",
        "user-non-preferred",
        "assistant-first",
    ],
)
def test_invalid_preference_rows_raise(row: dict[str, Any], match: str) -> None:
    with pytest.raises(RowFormatError, match=match):
        validate_preference_row(row)


@pytest.mark.parametrize("where", ["top", "input", "input-message", "preferred", "non_preferred"])
def test_preference_extra_keys_are_rejected_at_every_level(where: str) -> None:
    row = copy.deepcopy(VALID_PREF)
    target = {
        "top": row,
        "input": row["input"],
        "input-message": row["input"]["messages"][1],
        "preferred": row["preferred_output"][0],
        "non_preferred": row["non_preferred_output"][0],
    }[where]
    target["extra_key"] = 1
    with pytest.raises(RowFormatError, match="extra_key"):
        validate_preference_row(row)


def test_preference_row_missing_side_is_rejected() -> None:
    row = copy.deepcopy(VALID_PREF)
    del row["non_preferred_output"]
    with pytest.raises(RowFormatError, match="non_preferred_output"):
        validate_preference_row(row)


# --- TRL conversions ---


def test_sft_to_trl_worked_example() -> None:
    row = sft_row(SYSTEM, GOAL, CALL, OBS, FINAL)
    assert sft_to_trl(row) == {
        "prompt": [SYSTEM, GOAL, CALL, OBS],
        "completion": [FINAL],
    }


def test_sft_to_trl_does_not_mutate_the_row() -> None:
    row = sft_row(GOAL, CALL)
    before = copy.deepcopy(row)
    sft_to_trl(row)
    assert row == before


def test_preference_to_trl_worked_example() -> None:
    assert preference_to_trl(copy.deepcopy(VALID_PREF)) == {
        "prompt": [SYSTEM, GOAL, CALL, OBS],
        "chosen": [FINAL],
        "rejected": [BAD],
    }


# --- native-protocol rows with their tools ---

TOOLS = openai_tool_schemas()
NATIVE_CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {"id": "c0", "type": "function", "function": {"name": "list_files", "arguments": "{}"}}
    ],
}
NATIVE_OBS = {"role": "tool", "tool_call_id": "c0", "content": "a.py"}
NATIVE_READ = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "read_file", "arguments": '{"rel_path": "a.py"}'},
        }
    ],
}


def native_sft(tools: Any = TOOLS) -> dict[str, Any]:
    """The shape of OpenAI's and Together's chat rows with tools: `tools` next to `messages`."""
    return {"messages": [SYSTEM, GOAL, NATIVE_CALL, NATIVE_OBS, NATIVE_READ], "tools": tools}


def native_pref(tools: Any = TOOLS) -> dict[str, Any]:
    """The shape of OpenAI's and Together's preference rows with tools: `tools` in `input`."""
    row = pref_row([SYSTEM, GOAL, NATIVE_CALL, NATIVE_OBS], NATIVE_READ, BAD)
    row["input"]["tools"] = tools
    return row


def test_native_sft_row_carries_its_tools() -> None:
    parsed = validate_sft_row(copy.deepcopy(native_sft()))
    assert parsed.tools is not None
    assert [t.function.name for t in parsed.tools] == list(TOOLS_BY_NAME)


def test_native_preference_row_carries_its_tools_in_input() -> None:
    parsed = validate_preference_row(copy.deepcopy(native_pref()))
    assert parsed.input.tools is not None
    assert [t.function.name for t in parsed.input.tools] == list(TOOLS_BY_NAME)


def test_native_rows_without_tools_still_pass() -> None:
    row = native_sft()
    del row["tools"]
    assert validate_sft_row(row).tools is None
    pref = native_pref()
    del pref["input"]["tools"]
    assert validate_preference_row(pref).input.tools is None


def test_preference_tools_at_the_top_level_are_rejected() -> None:
    row = native_pref()
    row["tools"] = row["input"].pop("tools")
    with pytest.raises(RowFormatError, match="carries its tools inside input"):
        validate_preference_row(row)


def _tool(**function: Any) -> dict[str, Any]:
    fn = {"name": "list_files", "description": "List files.", "parameters": {"type": "object"}}
    return {"type": "function", "function": {**fn, **function}}


MALFORMED_TOOLS = [
    ("not-a-list", {"type": "function"}, "valid list"),
    ("empty", [], "at least 1 item"),
    ("not-function", [{**_tool(), "type": "tool"}], "'function'"),
    ("no-function", [{"type": "function"}], "tools.0.function\n  Field required"),
    ("no-name", [{"type": "function", "function": {"parameters": {}}}], "function.name"),
    ("bad-name", [_tool(name="list files")], "should match pattern"),
    ("no-description", [{"type": "function", "function": {"name": "f"}}], "description"),
    ("parameters-not-object", [_tool(parameters={"type": "string"})], '"type": "object"'),
    ("parameters-not-dict", [_tool(parameters="{}")], "valid dictionary"),
    ("extra-key", [_tool(strictness=1)], "strictness"),
    ("twice", [_tool(), _tool()], "tool list_files is listed twice"),
]


@pytest.mark.parametrize(
    ("tools", "match"), [c[1:] for c in MALFORMED_TOOLS], ids=[c[0] for c in MALFORMED_TOOLS]
)
def test_malformed_tools_are_rejected(tools: Any, match: str) -> None:
    with pytest.raises(RowFormatError, match=match):
        validate_sft_row(native_sft(tools))
    with pytest.raises(RowFormatError, match=match):
        validate_preference_row(native_pref(tools))


def test_rows_of_the_builders_leave_tools_out_when_there_are_none() -> None:
    # json protocol: the rows are exactly what they were before rows could carry tools
    msgs = [Message.model_validate(m) for m in (SYSTEM, GOAL, CALL)]
    assert build_sft_row(msgs) == {"messages": [SYSTEM, GOAL, CALL]}
    good, bad = Message.model_validate(FINAL), Message.model_validate(BAD)
    assert build_preference_row(msgs[:2], good, bad) == pref_row([SYSTEM, GOAL], FINAL, BAD)


def test_rows_of_the_builders_put_tools_where_the_formats_want_them() -> None:
    msgs = [Message.model_validate(m) for m in (SYSTEM, GOAL, NATIVE_CALL)]
    row = build_sft_row(msgs, TOOLS)
    assert list(row) == ["messages", "tools"] and row["tools"] == TOOLS
    validate_sft_row(row)
    pref = build_preference_row(msgs[:2], msgs[2], Message.model_validate(BAD), TOOLS)
    assert list(pref) == ["input", "preferred_output", "non_preferred_output"]
    assert pref["input"] == {"messages": [SYSTEM, GOAL], "tools": TOOLS}
    validate_preference_row(pref)


def test_trl_conversions_pass_the_tools_as_json() -> None:
    sft = sft_to_trl(native_sft())
    assert sft["prompt"][-1] == NATIVE_OBS and sft["completion"] == [NATIVE_READ]
    assert json.loads(sft["tools"]) == TOOLS
    pref = preference_to_trl(native_pref())
    assert json.loads(pref["tools"]) == TOOLS and pref["chosen"] == [NATIVE_READ]
    assert "tools" not in sft_to_trl(sft_row(GOAL, CALL))
    assert "tools" not in preference_to_trl(copy.deepcopy(VALID_PREF))
