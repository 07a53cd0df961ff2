"""Dataset row formats (SFT chat rows, Together/OpenAI preference rows, TRL rows) and their
validation. Pure functions; every row is checked before it is written."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from repo_agent.records import Message


class RowFormatError(ValueError):
    """A dataset row violates its documented format."""


class SFTRow(BaseModel):
    """`{"messages": [system, user, assistant, ..., assistant]}` ending in the action to learn."""

    model_config = ConfigDict(extra="forbid")
    messages: list[Message] = Field(min_length=2)


class PreferenceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[Message] = Field(min_length=1)


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


def sft_to_trl(row: dict[str, Any]) -> dict[str, Any]:
    """SFT chat row → TRL conversational prompt/completion (loss on the last action only).

    >>> out = sft_to_trl({"messages": [{"role": "user", "content": "q"},
    ...                                {"role": "assistant", "content": "a"}]})
    >>> out["prompt"], out["completion"]
    ([{'role': 'user', 'content': 'q'}], [{'role': 'assistant', 'content': 'a'}])
    """
    msgs = row["messages"]
    return {"prompt": msgs[:-1], "completion": msgs[-1:]}


def preference_to_trl(row: dict[str, Any]) -> dict[str, Any]:
    """Together/OpenAI preference row → TRL conversational prompt/chosen/rejected."""
    return {
        "prompt": row["input"]["messages"],
        "chosen": row["preferred_output"],
        "rejected": row["non_preferred_output"],
    }
