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
    stop_on_non_json: bool = Field(
        True, description="hf: stop a sequence as soon as it cannot be one JSON object"
    )
    # API policies (openai, together); keys come only from the environment (api_key_env).
    base_url: str | None = Field(
        None, description="APIs: endpoint; default OPENAI_BASE_URL / TOGETHER_BASE_URL"
    )
    api_key_env: str | None = Field(
        None, description="APIs: env var holding the key; default OPENAI_API_KEY / TOGETHER_API_KEY"
    )
    concurrency: int = Field(4, ge=1, description="APIs: requests in flight")
    max_retries: int = Field(5, ge=0, description="APIs: retries on 429, 5xx, timeouts")
    retry_base_s: float = Field(0.5, ge=0, description="APIs: first backoff (doubles, jittered)")
    retry_max_s: float = Field(30.0, ge=0, description="APIs: longest backoff")
    timeout_s: float = Field(120.0, gt=0, description="APIs: per-request timeout")
    json_mode: bool = Field(
        False, description='APIs, json protocol: send response_format={"type":"json_object"}'
    )
    cache: bool = Field(True, description="APIs: reuse cached responses (see cache_dir)")
    cache_dir: str = Field("cache/responses", description="APIs: response cache, one file per key")
    price_input_per_mtok: float = Field(0.0, ge=0, description="APIs: USD per 1M prompt tokens")
    price_output_per_mtok: float = Field(0.0, ge=0, description="APIs: USD per 1M output tokens")


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
    if config.kind == "openai":
        from repo_agent.policies.openai_api import OpenAIPolicy

        return OpenAIPolicy(config, name=label)
    if config.kind == "together":
        from repo_agent.policies.together_api import TogetherPolicy

        return TogetherPolicy(config, name=label)
    raise ValueError(f"policy kind {config.kind!r} is not available in this build")
