"""Policies: who produces the next assistant message."""

from repo_agent.policies.base import Policy, PolicyRequest

__all__ = ["Policy", "PolicyRequest"]
