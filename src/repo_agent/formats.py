"""Dataset row formats (SFT chat rows, Together/OpenAI preference rows, TRL rows) and their
validation. Pure functions; every row is checked before it is written."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from repo_agent.records import Message


class RowFormatError(ValueError):
    """A dataset row violates its documented format."""


class FunctionSchema(BaseModel):
    """A function the model may call, as OpenAI's and Together's `tools` entries describe it."""

    model_config = ConfigDict(extra="forbid")
    # OpenAI's rule for function names; Together and chat templates take the same names.
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str
    parameters: dict[str, Any]

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        if parameters.get("type") != "object":
            raise ValueError('parameters must be a JSON Schema with "type": "object"')
        return parameters


class ToolSchema(BaseModel):
    """`{"type": "function", "function": {"name", "description", "parameters"}}`."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["function"]
    function: FunctionSchema


def _check_tools(tools: list[ToolSchema]) -> list[ToolSchema]:
    names = [t.function.name for t in tools]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"tool {', '.join(twice)} is listed twice")
    return tools


# A row without tools leaves the key out: an empty list is rejected, not read as "no tools".
Tools = Annotated[list[ToolSchema], Field(min_length=1), AfterValidator(_check_tools)]


class SFTRow(BaseModel):
    """`{"messages": [system, user, assistant, ..., assistant]}` ending in the action to learn,
    plus, under the native tool protocol, the `tools` the model was offered."""

    model_config = ConfigDict(extra="forbid")
    messages: list[Message] = Field(min_length=2)
    tools: Tools | None = None


class PreferenceInput(BaseModel):
    """The state of a preference row; under the native protocol it holds the `tools` too
    (where OpenAI's and Together's preference formats put them)."""

    model_config = ConfigDict(extra="forbid")
    messages: list[Message] = Field(min_length=1)
    tools: Tools | None = None


class PreferenceRow(BaseModel):
    """Together/OpenAI preference row: a state, a preferred and a non-preferred next message."""

    model_config = ConfigDict(extra="forbid")
    input: PreferenceInput
    preferred_output: list[Message] = Field(min_length=1, max_length=1)
    non_preferred_output: list[Message] = Field(min_length=1, max_length=1)


def check_conversation(messages: list[Message], ends_with_assistant: bool) -> None:
    """Roles: optional system first, then user/assistant alternation (tool messages answer the
    assistant's tool calls). Raises RowFormatError."""
    if not messages:
        raise RowFormatError("no messages")
    body = messages[1:] if messages[0].role == "system" else messages
    if any(m.role == "system" for m in body):
        raise RowFormatError("a system message may only come first")
    if not body or body[0].role != "user":
        raise RowFormatError("the conversation must start with a user message")
    prev = None
    for m in body:
        if m.role == "tool":
            if prev not in {"assistant", "tool"}:
                raise RowFormatError("a tool message must follow an assistant tool call")
        elif m.role == prev:
            raise RowFormatError(f"two {m.role} messages in a row")
        prev = m.role
    last = messages[-1].role
    if ends_with_assistant and last != "assistant":
        raise RowFormatError("an SFT row must end with the assistant action to learn")
    if not ends_with_assistant and last == "assistant":
        raise RowFormatError("a preference input must end before the assistant's turn")


def validate_sft_row(row: dict[str, Any]) -> SFTRow:
    try:
        parsed = SFTRow.model_validate(row)
    except ValidationError as exc:
        raise RowFormatError(str(exc)) from exc
    check_conversation(parsed.messages, ends_with_assistant=True)
    return parsed


def validate_preference_row(row: dict[str, Any]) -> PreferenceRow:
    if "tools" in row:
        raise RowFormatError(
            "a preference row carries its tools inside input "
            '({"input": {"messages": [...], "tools": [...]}, ...}), not at the top level'
        )
    try:
        parsed = PreferenceRow.model_validate(row)
    except ValidationError as exc:
        raise RowFormatError(str(exc)) from exc
    check_conversation(parsed.input.messages, ends_with_assistant=False)
    for side in (parsed.preferred_output, parsed.non_preferred_output):
        if side[0].role != "assistant":
            raise RowFormatError("preferred/non-preferred outputs must be assistant messages")
    return parsed


def dump_messages(messages: list[Message]) -> list[dict[str, Any]]:
    return [m.dump() for m in messages]


def sft_row(messages: list[Message], tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An SFT row; `tools` (native protocol) go next to `messages`, none leaves the key out.

    >>> sft_row([Message(role="user", content="q"), Message(role="assistant", content="a")])
    {'messages': [{'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 'a'}]}
    """
    row: dict[str, Any] = {"messages": dump_messages(messages)}
    if tools is not None:
        row["tools"] = tools
    return row


def preference_row(
    state: list[Message], good: Message, bad: Message, tools: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A preference row; `tools` (native protocol) go inside `input`, none leaves the key out."""
    state_part: dict[str, Any] = {"messages": dump_messages(state)}
    if tools is not None:
        state_part["tools"] = tools
    return {
        "input": state_part,
        "preferred_output": dump_messages([good]),
        "non_preferred_output": dump_messages([bad]),
    }


def _trl_tools(tools: list[dict[str, Any]] | None) -> dict[str, str]:
    # TRL reads a `tools` column as a list or a JSON string. A string keeps each schema as it is:
    # a list column would make Arrow merge the tools' different `properties` into one struct,
    # giving every tool the other tools' arguments as nulls.
    return {} if tools is None else {"tools": json.dumps(tools)}


def sft_to_trl(row: dict[str, Any]) -> dict[str, Any]:
    """SFT chat row → TRL conversational prompt/completion (loss on the last action only), with
    the row's `tools` as a JSON string for the chat template.

    >>> out = sft_to_trl({"messages": [{"role": "user", "content": "q"},
    ...                                {"role": "assistant", "content": "a"}]})
    >>> out["prompt"], out["completion"]
    ([{'role': 'user', 'content': 'q'}], [{'role': 'assistant', 'content': 'a'}])
    """
    msgs = row["messages"]
    return {"prompt": msgs[:-1], "completion": msgs[-1:], **_trl_tools(row.get("tools"))}


def preference_to_trl(row: dict[str, Any]) -> dict[str, Any]:
    """Together/OpenAI preference row → TRL conversational prompt/chosen/rejected, with the
    input's `tools` as a JSON string for the chat template."""
    return {
        "prompt": row["input"]["messages"],
        "chosen": row["preferred_output"],
        "rejected": row["non_preferred_output"],
        **_trl_tools(row["input"].get("tools")),
    }
