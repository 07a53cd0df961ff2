"""The Policy protocol: a batch of conversation states in, one assistant message each out."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from repo_agent.records import Completion, Message


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
