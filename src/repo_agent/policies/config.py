"""The policy sections of params (`teacher`, `student`) and the CLI's policy options: one model
per `kind`, each with only the keys that apply to it, joined as the union `PolicyConfig`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from repo_agent.device import Device, DeviceMap, DType
from repo_agent.yamlfile import ConfigModel

PolicyKind = Literal["oracle", "hf", "vllm", "openai", "together"]
Constrain = Literal["none", "json_schema"]


class PolicyBase(ConfigModel):
    """What every policy has: its kind, and where its responses are cached."""

    kind: PolicyKind
    cache_dir: str = Field("cache/responses", description="APIs: response cache, one file per key")


class OracleConfig(PolicyBase):
    """The offline oracle: the reference fix, reached with seeded detours."""

    kind: Literal["oracle"] = "oracle"
    explore: float = Field(0.0, ge=0, le=1, description="chance of each seeded detour")


class ModelConfig(PolicyBase):
    """What every model policy (local or API) has: the model and how it decodes."""

    model: str = Field("", description="local path or hub name; APIs: the model name")
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(256, ge=1)
    constrain: Constrain = Field(
        "none",
        description="json_schema: decode under the protocol's JSON schema (hf: llguidance "
        "grammar; vllm: structured outputs; APIs: strict response_format / strict tools with "
        "tool_choice=required)",
    )


class LocalKeys(ConfigModel):
    """The keys of a model run on this machine (hf, vllm)."""

    batch_size: int = Field(8, ge=1, description="sequences generated together")
    max_prompt_tokens: int = Field(2048, ge=64, description="prompt cut from the left")
    dtype: DType = Field(
        "auto",
        description="weights' precision; auto = bfloat16 on a GPU (float16 if it has no "
        "bfloat16), float32 on the CPU; float16 on the CPU is refused",
    )


class HFKeys(LocalKeys):
    """The keys of a transformers model: where it runs and when it stops."""

    device: Device = Field("cpu", description="cpu | cuda | auto (cuda when torch sees a GPU)")
    device_map: DeviceMap = Field(
        "none",
        description="on cuda: auto spreads a model too big for one GPU over all visible GPUs "
        "(accelerate's device_map='auto')",
    )
    stop_on_non_json: bool = Field(
        True, description="stop a sequence as soon as it cannot be one JSON object"
    )

    @model_validator(mode="after")
    def _placement(self) -> HFKeys:
        if self.device_map == "auto" and self.device == "cpu":
            raise ValueError(
                "device_map: auto spreads a model over GPUs; set device: cuda (or auto), or "
                "device_map: none"
            )
        return self


class HFConfig(HFKeys, ModelConfig):
    """A local model run with transformers."""

    kind: Literal["hf"] = "hf"


class VLLMConfig(LocalKeys, ModelConfig):
    """A local model run with an in-process vLLM engine (always on the GPUs)."""

    kind: Literal["vllm"] = "vllm"
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one model is split over")
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="share of each GPU's memory vLLM may take"
    )


class APIConfig(ModelConfig):
    """A chat-completions API; keys come only from the environment (api_key_env)."""

    base_url: str | None = Field(
        None, description="endpoint; default OPENAI_BASE_URL / TOGETHER_BASE_URL"
    )
    api_key_env: str | None = Field(
        None, description="env var holding the key; default OPENAI_API_KEY / TOGETHER_API_KEY"
    )
    concurrency: int = Field(4, ge=1, description="requests in flight")
    max_retries: int = Field(5, ge=0, description="retries on 429, 5xx, timeouts")
    retry_base_s: float = Field(0.5, ge=0, description="first backoff (doubles, jittered)")
    retry_max_s: float = Field(30.0, ge=0, description="longest backoff")
    timeout_s: float = Field(120.0, gt=0, description="per-request timeout")
    json_mode: bool = Field(
        False, description='json protocol: send response_format={"type":"json_object"}'
    )
    cache: bool = Field(True, description="reuse cached responses (see cache_dir)")
    price_input_per_mtok: float = Field(0.0, ge=0, description="USD per 1M prompt tokens")
    price_output_per_mtok: float = Field(0.0, ge=0, description="USD per 1M output tokens")

    @model_validator(mode="after")
    def _consistent(self) -> APIConfig:
        if self.constrain != "none" and self.json_mode:
            raise ValueError(
                "json_mode and constrain: json_schema both set response_format; choose one"
            )
        if self.retry_max_s < self.retry_base_s:
            raise ValueError(
                f"retry_max_s ({self.retry_max_s}) is below retry_base_s ({self.retry_base_s})"
            )
        return self


class OpenAIConfig(APIConfig):
    """OpenAI, or any OpenAI-compatible server by base_url."""

    kind: Literal["openai"] = "openai"


class TogetherConfig(APIConfig):
    """Together's API through its SDK."""

    kind: Literal["together"] = "together"


POLICY_CLASSES: dict[str, type[PolicyBase]] = {
    "oracle": OracleConfig,
    "hf": HFConfig,
    "vllm": VLLMConfig,
    "openai": OpenAIConfig,
    "together": TogetherConfig,
}


def by_kind(classes: dict[str, type[PolicyBase]], default: str) -> WrapValidator:
    """Validates a mapping as the class its `kind` (else `default`) names. Unlike pydantic's
    tagged union, an error names the key where the user wrote it (`teacher.dtype`, not
    `teacher.oracle.dtype`)."""

    def validate(data: Any, _union: ValidatorFunctionWrapHandler) -> PolicyBase:
        if isinstance(data, PolicyBase) and data.kind in classes:
            return data
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping with a kind ({', '.join(classes)})")
        kind = data.get("kind", default)
        if kind not in classes:
            raise ValueError(f"kind: {kind!r} is not one of {', '.join(classes)}")
        return classes[kind].model_validate(data)

    return WrapValidator(validate)


# What a `teacher:` section or a CLI policy holds: one of the classes above, chosen by `kind`.
PolicyConfig = Annotated[
    OracleConfig | HFConfig | VLLMConfig | OpenAIConfig | TogetherConfig,
    by_kind(POLICY_CLASSES, "oracle"),
]
_ADAPTER: TypeAdapter[PolicyConfig] = TypeAdapter(PolicyConfig)


def parse_policy(data: dict[str, Any]) -> PolicyConfig:
    """A policy config from a mapping (kind oracle unless it names one; a ValidationError
    names a wrong key).

    >>> parse_policy({"explore": 0.3})
    OracleConfig(kind='oracle', cache_dir='cache/responses', explore=0.3)
    """
    return _ADAPTER.validate_python(data)


def replace_policy(config: PolicyBase, **update: Any) -> PolicyConfig:
    """`config` with fields replaced, validated again; a new `kind` keeps the keys it shares
    with the old one (a key only the old kind has is left behind).

    >>> cfg = replace_policy(HFConfig(model="m", device="auto"), kind="vllm", temperature=0.5)
    >>> cfg.kind, cfg.model, cfg.temperature
    ('vllm', 'm', 0.5)
    """
    target = POLICY_CLASSES[update.get("kind", config.kind)]
    kept = {k: v for k, v in config.model_dump().items() if k in target.model_fields}
    return parse_policy(kept | update | {"kind": target.model_fields["kind"].default})
