"""The Policy protocol: a batch of conversation states in, one assistant message each out,
read as the next action."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from repo_agent.records import Action, Completion, FinalAction, Message
from repo_agent.runtime.config import ToolProtocol
from repo_agent.runtime.protocol import ParseError, ParseErrorCode, parse_action
from repo_agent.secrets import scrub, scrub_message


class PolicyRequest(BaseModel):
    """One conversation state to act on."""

    model_config = ConfigDict(extra="forbid")

    task_id: str
    run_id: str
    seed: int = 0
    step: int = 0
    messages: list[Message]
    tools: list[dict[str, Any]] | None = None  # function schemas for the native protocol


class Policy(Protocol):
    """Anything that answers conversation states; batching and concurrency are its own business.

    A policy may set `trusted = True` when the code it writes is ours (the offline teacher, a
    replayed script): only then may its test runs go unsandboxed under `sandbox: auto`. A policy
    without the attribute is untrusted."""

    name: str

    def complete(self, requests: list[PolicyRequest]) -> list[Completion]:
        """Return one Completion per request, in order. Never raises for a single bad request."""
        ...


def is_trusted(policy: Policy) -> bool:
    """Whether the code this policy writes is ours (see Policy)."""
    return getattr(policy, "trusted", False) is True


def read_reply(
    completion: Completion, protocol: ToolProtocol
) -> tuple[Message, Action | ParseError]:
    """A policy's reply as the next assistant message and its parsed action, keys masked in
    both: a reply may echo a key it was shown, and JSON escapes ("\\u0073k-...") can spell one
    that its text did not show. A reply cut by the token budget that does not parse is
    TRUNCATED."""
    msg = completion.message
    msg = scrub_message(msg.model_copy(update={"role": "assistant", "content": msg.content or ""}))
    parsed = scrub_parsed(parse_action(msg, protocol))
    if isinstance(parsed, ParseError) and completion.truncated:
        parsed = ParseError(
            ParseErrorCode.TRUNCATED,
            f"the reply reached the token budget before it was complete "
            f"({parsed.code.value}: {parsed.detail})",
        )
    return msg, parsed


def scrub_parsed(parsed: Action | ParseError) -> Action | ParseError:
    """The parsed action with keys masked in its strings."""
    if isinstance(parsed, FinalAction):
        return parsed.model_copy(update={"summary": scrub(parsed.summary)})
    if isinstance(parsed, ParseError):
        return ParseError(parsed.code, scrub(parsed.detail))
    args = {k: scrub(v) if isinstance(v, str) else v for k, v in parsed.args.items()}
    return parsed if args == parsed.args else parsed.model_copy(update={"args": args})
