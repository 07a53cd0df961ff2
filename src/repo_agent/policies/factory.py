"""Build a policy from its typed configuration."""

from __future__ import annotations

from repo_agent.policies.config import (
    APIConfig,
    HFConfig,
    OpenAIConfig,
    OracleConfig,
    PolicyConfig,
    TogetherConfig,
    VLLMConfig,
)
from repo_agent.runtime.config import ToolProtocol
from repo_agent.runtime.policy import Policy
from repo_agent.runtime.task import Task


def make_policy(
    config: PolicyConfig, tasks: list[Task], protocol: ToolProtocol, name: str | None = None
) -> Policy:
    """Instantiate the configured policy (heavy imports happen only for the kind chosen)."""
    model = getattr(config, "model", "")
    label = name or (f"{config.kind}:{model}" if model else config.kind)
    if isinstance(config, OracleConfig):
        from repo_agent.policies.oracle import OraclePolicy

        return OraclePolicy(tasks, protocol=protocol, explore=config.explore, name=label)
    if isinstance(config, HFConfig):
        from repo_agent.policies.hf import HFPolicy

        if protocol != "json":
            raise ValueError("the hf policy speaks the json tool protocol only")
        return HFPolicy(config, name=label)
    if isinstance(config, VLLMConfig):
        if protocol != "json":
            raise ValueError("the vllm policy speaks the json tool protocol only")
        from repo_agent.policies.vllm_policy import VLLMPolicy

        return VLLMPolicy(config, name=label)
    if isinstance(config, OpenAIConfig):
        from repo_agent.policies.openai_api import OpenAIPolicy

        return OpenAIPolicy(config, name=label)
    if isinstance(config, TogetherConfig):
        from repo_agent.policies.together_api import TogetherPolicy

        if config.constrain == "json_schema" and protocol == "native":
            raise ValueError(
                "together: constrain json_schema is not supported under the native protocol "
                "(the Together SDK's function schema has no `strict` field); use "
                "agent.tool_protocol json (response_format json_schema), or kind openai with "
                "the server's base_url"
            )

        return TogetherPolicy(config, name=label)
    raise ValueError(f"policy kind {config.kind!r} is not available in this build")


def batch_size_for(config: PolicyConfig) -> int:
    """States answered per call: the hf / vllm batch, the API concurrency, or 8 for offline
    policies."""
    if isinstance(config, HFConfig | VLLMConfig):
        return config.batch_size
    if isinstance(config, APIConfig):
        return config.concurrency
    return 8
