"""The training params sections: `finetune` (local TRL and remote jobs) and the embedded
student's build settings. Pure pydantic, so collecting params loads no training code."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from repo_agent.device import Device
from repo_agent.policies.config import (
    HFConfig,
    HFKeys,
    OpenAIConfig,
    PolicyBase,
    TogetherConfig,
    VLLMConfig,
    by_kind,
)
from repo_agent.yamlfile import ConfigModel, Seed


class StudentBuild(ConfigModel):
    """The embedded student built from scratch when `student.model` is `builtin-tiny`."""

    vocab_size: int = Field(2048, ge=300)
    hidden_size: int = Field(128, ge=16)
    num_layers: int = Field(2, ge=1)
    num_heads: int = Field(4, ge=1)
    num_kv_heads: int = Field(2, ge=1)
    intermediate_size: int = Field(384, ge=16)
    max_positions: int = Field(4096, ge=256)
    seed: Seed = 0

    # Qwen2 gives each of num_heads heads hidden_size // num_heads dims and shares each key/value
    # head among num_heads // num_kv_heads query heads. An odd head size (rotary embeddings) or
    # num_kv_heads not dividing num_heads fails only in the first forward pass; a hidden_size
    # num_heads does not divide silently leaves some of its dims out of attention.
    @field_validator("num_heads")
    @classmethod
    def _heads_split_hidden(cls, heads: int, info: ValidationInfo) -> int:
        hidden = info.data.get("hidden_size")
        if hidden is not None and (hidden % heads or (hidden // heads) % 2):
            raise ValueError(
                f"must split hidden_size ({hidden}) into heads of an even size, "
                f"not {hidden / heads:g}"
            )
        return heads

    @field_validator("num_kv_heads")
    @classmethod
    def _kv_heads_divide_heads(cls, kv_heads: int, info: ValidationInfo) -> int:
        heads = info.data.get("num_heads")
        if heads is not None and heads % kv_heads:
            raise ValueError(f"{kv_heads} does not divide num_heads ({heads}) evenly")
        return kv_heads


class LocalStudent(ConfigModel):
    """What a local student adds to its policy: `model: builtin-tiny` builds the embedded model
    into models/base."""

    model: str = "builtin-tiny"
    # Room for a write_file action that carries a whole file.
    max_new_tokens: int = Field(768, ge=1)
    build: StudentBuild = Field(default_factory=StudentBuild)


class HFStudent(LocalStudent, HFConfig):
    """A student run with transformers (the default: the embedded model on the CPU)."""


class VLLMStudent(LocalStudent, VLLMConfig):
    """A student run with vLLM; its fine-tunes run with vLLM too."""


class OpenAIStudent(HFKeys, OpenAIConfig):
    """A student served by an OpenAI-compatible API; the hf keys set how fine-tunes downloaded
    into models/ (finetune.remote.serve: download) run."""


class TogetherStudent(HFKeys, TogetherConfig):
    """A student served by Together; the hf keys set how fine-tunes downloaded into models/
    (finetune.remote.serve: download) run."""


STUDENT_CLASSES: dict[str, type[PolicyBase]] = {
    "hf": HFStudent,
    "vllm": VLLMStudent,
    "openai": OpenAIStudent,
    "together": TogetherStudent,
}
# The `student:` section: one of the classes above, chosen by `kind` (hf unless it names one).
StudentParams = Annotated[
    HFStudent | VLLMStudent | OpenAIStudent | TogetherStudent, by_kind(STUDENT_CLASSES, "hf")
]


ServeMode = Literal["name", "download", "endpoint"]


class RemoteFinetuneConfig(ConfigModel):
    """Remote (Together / OpenAI) fine-tuning settings; keys come only from the environment."""

    poll_interval_s: float = Field(30.0, gt=0, description="seconds between status polls")
    timeout_s: float = Field(
        86400.0, gt=0, description="stop waiting for a file or job after this; a rerun resumes"
    )
    n_epochs: int = Field(3, ge=1, description="SFT epochs")
    dpo_n_epochs: int = Field(1, ge=1, description="DPO epochs")
    learning_rate: float | None = Field(
        None,
        gt=0,
        description="SFT; together: learning rate (SDK default 1e-5), openai: "
        "learning_rate_multiplier; None = the provider's default",
    )
    dpo_learning_rate: float | None = Field(None, gt=0, description="DPO, as learning_rate")
    batch_size: int | None = Field(None, ge=1, description="None = provider default (max/auto)")
    lora: bool = Field(True, description="together: LoRA (else full fine-tuning)")
    lora_r: int | None = Field(None, ge=1, description="together: LoRA rank; None = model default")
    suffix: str | None = Field("repo-agent", max_length=40, description="output model name suffix")
    base_url: str | None = Field(
        None, description="default TOGETHER_BASE_URL (no /v1) / OPENAI_BASE_URL (with /v1)"
    )
    api_key_env: str | None = Field(
        None, description="env var with the key; default TOGETHER_API_KEY / OPENAI_API_KEY"
    )
    max_retries: int = Field(5, ge=0, description="retries of one API call (429, 5xx, timeouts)")
    retry_base_s: float = Field(1.0, ge=0, description="first backoff (doubles, jittered)")
    retry_max_s: float = Field(60.0, ge=0, description="longest backoff")
    request_timeout_s: float = Field(120.0, gt=0, description="timeout of one API request")
    serve: ServeMode = Field(
        "name",
        description="how eval serves the fine-tune: name (the provider serves it serverless), "
        "download (together: fetch the weights into models/<method>, run them with hf), "
        "endpoint (together: a dedicated endpoint for the eval, stopped afterwards)",
    )
    allow_endpoint: bool = Field(
        False, description="opt-in for serve: endpoint (a dedicated endpoint bills per minute)"
    )
    endpoint_hardware: str = Field(
        "1x_nvidia_h100_80gb_sxm", description="serve: endpoint; Together's hardware id"
    )
    endpoint_price_per_hour: float = Field(
        3.99, ge=0, description="USD per hour of endpoint_hardware, for the cost line only"
    )
    max_endpoint_minutes: float = Field(
        60.0, gt=0, description="stop the endpoint and fail once it has run this long"
    )
    endpoint_start_timeout_s: float = Field(
        1800.0, gt=0, description="give up (and delete it) if the endpoint is not serving by then"
    )

    @model_validator(mode="after")
    def _backoff_grows(self) -> RemoteFinetuneConfig:
        if self.retry_max_s < self.retry_base_s:
            raise ValueError(
                f"retry_max_s ({self.retry_max_s}) is below retry_base_s ({self.retry_base_s})"
            )
        return self


class SFTParams(ConfigModel):
    """Defaults sized for the embedded student (see README: batch 1 trains it far better; ~3,400
    updates: 6 epochs of one teacher run per task, 4 of two in profile `full`)."""

    epochs: float = Field(6.0, gt=0, description="passes over the data; a fraction is allowed")
    learning_rate: float = Field(2e-3, gt=0, le=1)
    batch_size: int = Field(1, ge=1)
    max_length: int = Field(2048, ge=64)


class DPOParams(ConfigModel):
    epochs: float = Field(1.0, gt=0, description="passes over the data; a fraction is allowed")
    learning_rate: float = Field(3e-5, gt=0, le=1)
    batch_size: int = Field(2, ge=1)
    beta: float = Field(0.1, gt=0)
    sft_weight: float = Field(
        1.0, ge=0, description="weight of an SFT loss on the preferred action (RPO); 0 = pure DPO"
    )
    max_length: int = Field(2048, ge=64)


Precision = Literal["auto", "fp32", "bf16", "fp16"]
Quantization = Literal["none", "4bit"]


class FinetuneParams(ConfigModel):
    backend: Literal["local", "together", "openai"] = "local"
    base_model: str = Field("", description="remote backends: the model to fine-tune")
    lora: bool = Field(False, description="LoRA via peft (what a 7B needs)")
    lora_r: int = Field(16, ge=1, description="LoRA rank (lora_alpha is 2 * lora_r)")
    seed: Seed = 0
    threads: int = Field(2, ge=1)
    # Local training on GPUs; the defaults are the CPU run (bf16 autocast, no gradient
    # checkpointing: the small student needs no memory saving and trains ~18% faster).
    device: Device = Field(
        "cpu", description="local: cpu | cuda | auto (cuda when torch sees a GPU, else cpu)"
    )
    precision: Precision = Field(
        "auto",
        description="local: mixed precision; auto = bf16 (fp16 on a GPU without bf16), "
        "fp32 = none; fp16 needs a GPU",
    )
    gradient_checkpointing: bool = Field(
        False,
        description="local: recompute activations in the backward pass (less memory, ~1/3 more "
        "compute: on for a 7B model on a GPU, off for the small CPU student)",
    )
    quantization: Quantization = Field(
        "none",
        description="local: 4bit = QLoRA (the model frozen in 4-bit NF4, LoRA adapters trained; "
        "needs lora, a CUDA GPU and bitsandbytes)",
    )
    num_processes: int = Field(
        1, ge=1, description="local: >1 trains under `accelerate launch`, one process per GPU"
    )
    sft: SFTParams = Field(default_factory=SFTParams)
    dpo: DPOParams = Field(default_factory=DPOParams)
    remote: RemoteFinetuneConfig = Field(
        default_factory=RemoteFinetuneConfig, description="backend together | openai"
    )

    @model_validator(mode="after")
    def _consistent(self) -> FinetuneParams:
        if self.backend == "openai" and self.remote.serve != "name":
            raise ValueError(
                f"remote.serve: {self.remote.serve} needs backend together; OpenAI has no weight "
                "download and no dedicated endpoints (use serve: name)"
            )
        if self.quantization == "4bit" and not self.lora:
            raise ValueError(
                "quantization: 4bit (QLoRA) trains LoRA adapters on a frozen 4-bit model; "
                "set lora: true"
            )
        return self
