"""The policy sections of params (`teacher`, `student`) and the CLI's policy options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from repo_agent.device import Device, DeviceMap, DType
from repo_agent.yamlfile import ConfigModel

PolicyKind = Literal["oracle", "hf", "vllm", "openai", "together"]
Constrain = Literal["none", "json_schema"]


class PolicyConfig(ConfigModel):
    """Who acts: the offline oracle, a local model (transformers or vLLM), or an API model."""

    kind: PolicyKind = "oracle"
    model: str = Field("", description="hf: local path or hub name; APIs: the model name")
    explore: float = Field(0.0, ge=0, le=1, description="oracle: chance of each seeded detour")
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(256, ge=1)
    batch_size: int = Field(8, ge=1, description="hf, vllm: sequences generated together")
    max_prompt_tokens: int = Field(2048, ge=64, description="hf, vllm: prompt cut from the left")
    # Local models (hf; vllm takes dtype): where the weights live and in what precision.
    device: Device = Field(
        "cpu", description="hf: cpu | cuda | auto (cuda when torch sees a GPU, else cpu)"
    )
    dtype: DType = Field(
        "auto",
        description="hf, vllm: weights' precision; auto = bfloat16 on a GPU (float16 if it has "
        "no bfloat16), float32 on the CPU; float16 on the CPU is refused",
    )
    device_map: DeviceMap = Field(
        "none",
        description="hf on cuda: auto spreads a model too big for one GPU over all visible GPUs "
        "(accelerate's device_map='auto')",
    )
    tensor_parallel_size: int = Field(1, ge=1, description="vllm: GPUs one model is split over")
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="vllm: share of each GPU's memory vLLM may take"
    )
    stop_on_non_json: bool = Field(
        True, description="hf: stop a sequence as soon as it cannot be one JSON object"
    )
    constrain: Constrain = Field(
        "none",
        description="json_schema: decode under the protocol's JSON schema (hf: llguidance "
        "grammar; APIs: strict response_format / strict tools with tool_choice=required)",
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

    @model_validator(mode="after")
    def _consistent(self) -> PolicyConfig:
        if self.constrain != "none" and self.kind == "oracle":
            raise ValueError(
                "constrain applies to hf, vllm, openai and together policies (the oracle's actions "
                "are valid by construction); set constrain: none"
            )
        if self.constrain != "none" and self.json_mode:
            raise ValueError(
                "json_mode and constrain: json_schema both set response_format; choose one"
            )
        if self.device_map == "auto" and self.device == "cpu":
            raise ValueError(
                "device_map: auto spreads a model over GPUs; set device: cuda (or auto), or "
                "device_map: none"
            )
        if self.retry_max_s < self.retry_base_s:
            raise ValueError(
                f"retry_max_s ({self.retry_max_s}) is below retry_base_s ({self.retry_base_s})"
            )
        return self
