"""Build a policy from its typed configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from repo_agent.policies.base import Policy
from repo_agent.protocol import ToolProtocol
from repo_agent.suites import Task

PolicyKind = Literal["oracle", "hf", "openai", "together"]


class PolicyConfig(BaseModel):
    """Who acts: the offline oracle, a local transformers model, or an API model."""

    model_config = ConfigDict(extra="forbid")

    kind: PolicyKind = "oracle"
    model: str = Field("", description="hf: local path or hub name; APIs: the model name")
    explore: float = Field(0.0, ge=0, le=1, description="oracle: chance of each seeded detour")
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(256, ge=1)
    batch_size: int = Field(8, ge=1, description="hf: sequences generated together")
    max_prompt_tokens: int = Field(2048, ge=64, description="hf: prompt cut from the left")


def make_policy(
    config: PolicyConfig, tasks: list[Task], protocol: ToolProtocol, name: str | None = None
) -> Policy:
    """Instantiate the configured policy (heavy imports happen only for the kind chosen)."""
    label = name or (config.kind if not config.model else f"{config.kind}:{config.model}")
    if config.kind == "oracle":
        from repo_agent.policies.oracle import OraclePolicy

        return OraclePolicy(tasks, protocol=protocol, explore=config.explore, name=label)
    if config.kind == "hf":
        from repo_agent.policies.hf import HFPolicy

        if protocol != "json":
            raise ValueError("the hf policy speaks the json tool protocol only")
        return HFPolicy(config, name=label)
    raise ValueError(f"policy kind {config.kind!r} is not available in this build")
