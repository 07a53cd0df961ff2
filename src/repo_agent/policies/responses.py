"""Reading chat-completion responses: the assistant message, its tokens and their cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repo_agent.records import FunctionCall, Message, NativeToolCall, Usage
from repo_agent.retries import MalformedResponseError


def usage_cost(
    prompt_tokens: int, completion_tokens: int, price_in: float, price_out: float
) -> Usage:
    """Tokens and their price (prices per million tokens).

    >>> usage_cost(1_000_000, 500_000, 0.4, 1.6).cost_usd
    1.2
    """
    cost = (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000
    return Usage(
        prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=round(cost, 10)
    )


@dataclass(frozen=True)
class ChatReply:
    message: Message
    prompt_tokens: int
    completion_tokens: int
    truncated: bool  # finish_reason "length": the reply hit max_tokens


def parse_chat_response(resp: Any) -> ChatReply:
    """The assistant message, its token counts and whether it was cut, from an SDK chat
    completion.

    Works on the OpenAI and Together SDK objects alike (they share the OpenAI shape); anything
    else (an HTML page, no choices, no message) is a MalformedResponseError.
    """
    choices = getattr(resp, "choices", None)
    if not choices:
        shown = resp if isinstance(resp, str) else type(resp).__name__
        raise MalformedResponseError(f"no choices in the response ({str(shown)[:200]!r})")
    msg = getattr(choices[0], "message", None)
    if msg is None:
        raise MalformedResponseError("the first choice has no message")
    calls = []
    for i, call in enumerate(getattr(msg, "tool_calls", None) or []):
        fn = getattr(call, "function", None)
        if fn is None:  # a non-function tool call: keep its name, let the protocol reject it
            name, arguments = str(getattr(call, "type", "unknown")), "{}"
        else:
            name, arguments = str(fn.name), fn.arguments or "{}"
        call_id = getattr(call, "id", None) or f"call_{i}"
        calls.append(
            NativeToolCall(id=call_id, function=FunctionCall(name=name, arguments=arguments))
        )
    message = Message(role="assistant", content=msg.content or "", tool_calls=calls or None)
    usage = getattr(resp, "usage", None)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    truncated = getattr(choices[0], "finish_reason", None) == "length"
    return ChatReply(message, prompt, completion, truncated)
