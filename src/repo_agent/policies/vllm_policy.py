"""vLLM as the local inference engine (`kind: vllm`): the lock-step states of a batch go to one
in-process `vllm.LLM.generate` call. vLLM is an optional extra that needs a CUDA GPU.

Written against vLLM's API since 0.12 (`SamplingParams(structured_outputs=
StructuredOutputsParams(json=...))`; 0.12 removed `guided_decoding`). The request building is
pure and tested on the CPU; the engine calls are not run here (no GPU, vLLM not installed)."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from typing import Any, Protocol

from repo_agent.policies.config import VLLMConfig
from repo_agent.policies.hf import CHARS_PER_TOKEN, chat_prompt_ids
from repo_agent.policies.schemas import action_schema
from repo_agent.records import Completion, Message, Usage
from repo_agent.runtime.policy import PolicyRequest

INSTALL = "pip install -e '.[gpu]' (or pip install vllm)"


class VLLMUnavailableError(RuntimeError):
    """vLLM cannot run here: it is not installed, or there is no CUDA GPU."""


def vllm_unavailable_reason(has_vllm: bool, has_cuda: bool) -> str | None:
    """Why `kind: vllm` cannot run here, as one line that says what to do; None when it can.

    >>> vllm_unavailable_reason(True, True) is None
    True
    >>> vllm_unavailable_reason(False, True)
    "kind: vllm needs vLLM, which is not installed: pip install -e '.[gpu]' (or pip install vllm)"
    """
    if not has_vllm:
        return f"kind: vllm needs vLLM, which is not installed: {INSTALL}"
    if not has_cuda:
        return (
            "kind: vllm needs a CUDA GPU and torch sees none (torch.cuda.is_available() is "
            "False); on a CPU use kind: hf"
        )
    return None


def check_vllm() -> None:
    """Raise VLLMUnavailableError at once when vLLM is missing or there is no GPU."""
    has_vllm = importlib.util.find_spec("vllm") is not None
    has_cuda = False
    if has_vllm:
        from repo_agent.device import torch_facts

        has_cuda = torch_facts().cuda
    reason = vllm_unavailable_reason(has_vllm, has_cuda)
    if reason is not None:
        raise VLLMUnavailableError(reason)


def engine_kwargs(config: VLLMConfig, dtype: str) -> dict[str, Any]:
    """Arguments of `vllm.LLM(...)`: the model (a local path or hub name), its precision, the
    GPUs and memory share, and a context just long enough for the prompt and the action.

    >>> engine_kwargs(VLLMConfig(model="models/sft", max_new_tokens=256),
    ...               "bfloat16")["max_model_len"]
    2304
    """
    return {
        "model": config.model,
        "dtype": dtype,
        "tensor_parallel_size": config.tensor_parallel_size,
        "gpu_memory_utilization": config.gpu_memory_utilization,
        "max_model_len": config.max_prompt_tokens + config.max_new_tokens,
        "seed": 0,
    }


def sampling_kwargs(config: VLLMConfig, request: PolicyRequest, eos: int | None) -> dict[str, Any]:
    """Arguments of `vllm.SamplingParams(...)` for one state, without the structured-outputs
    object (the caller builds it from `structured_outputs_kwargs`). Greedy at temperature 0;
    when sampling, a per-state seed from the run's seed and step, as the hf policy seeds.

    >>> req = PolicyRequest(task_id="t", run_id="r", seed=1, step=2, messages=[])
    >>> sampling_kwargs(VLLMConfig(temperature=0.5), req, 7)["seed"]
    1000005
    """
    kwargs: dict[str, Any] = {
        "max_tokens": config.max_new_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p if config.temperature > 0 else 1.0,
        "skip_special_tokens": True,
    }
    if config.temperature > 0:
        kwargs["seed"] = request.seed * 1_000_003 + request.step
    if eos is not None:
        kwargs["stop_token_ids"] = [eos]
    return kwargs


def structured_outputs_kwargs(config: VLLMConfig) -> dict[str, Any] | None:
    """Arguments of `StructuredOutputsParams(...)` under `constrain: json_schema`, else None:
    the protocol's schema (write_file content bounded by the token budget, as for hf) and no
    free whitespace (an untrained model pads JSON with it until the budget runs out)."""
    if config.constrain != "json_schema":
        return None
    schema = action_schema(max_content_chars=CHARS_PER_TOKEN * config.max_new_tokens)
    return {"json": schema, "disable_any_whitespace": True}


class GeneratedText(Protocol):
    """What this policy reads of a vLLM `CompletionOutput`."""

    text: str
    token_ids: Sequence[int]
    finish_reason: str | None


def to_completions(
    prompts: list[list[int]], outputs: list[GeneratedText], seconds: float
) -> list[Completion]:
    """One Completion per state from the first output of each request; `finish_reason ==
    "length"` is a cut-off action (truncated); decode time is shared out by tokens."""
    total = max(sum(len(o.token_ids) for o in outputs), 1)
    return [
        Completion(
            message=Message(role="assistant", content=out.text),
            usage=Usage(
                prompt_tokens=len(prompt),
                completion_tokens=len(out.token_ids),
                decode_s=round(seconds * len(out.token_ids) / total, 6),
            ),
            truncated=out.finish_reason == "length",
        )
        for prompt, out in zip(prompts, outputs, strict=True)
    ]


class VLLMPolicy:
    """Generates with an in-process `vllm.LLM`, all states of a call in one `generate`."""

    trusted = False  # model-written code: tests need the sandbox or an explicit `none`

    def __init__(self, config: VLLMConfig, name: str = "vllm") -> None:
        check_vllm()
        from transformers import AutoTokenizer
        from vllm import LLM

        from repo_agent.device import resolve_placement, torch_facts

        self.config = config
        self.name = name
        # vLLM always runs on the GPUs; `dtype` (auto: bfloat16, or float16 without it) applies.
        placement = resolve_placement("cuda", config.dtype, torch_facts())
        self.tokenizer = AutoTokenizer.from_pretrained(config.model)
        self.llm = LLM(**engine_kwargs(config, placement.dtype))
        self.structured = structured_outputs_kwargs(config)

    def complete(self, requests: list[PolicyRequest]) -> list[Completion]:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        if not requests:
            return []
        limit = self.config.max_prompt_tokens
        prompts = [chat_prompt_ids(self.tokenizer, r.messages, limit) for r in requests]
        eos = self.tokenizer.eos_token_id
        params = [
            SamplingParams(
                **sampling_kwargs(self.config, r, eos),
                structured_outputs=(
                    StructuredOutputsParams(**self.structured) if self.structured else None
                ),
            )
            for r in requests
        ]
        started = time.perf_counter()
        results = self.llm.generate(
            [{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False
        )
        seconds = time.perf_counter() - started
        return to_completions(prompts, [r.outputs[0] for r in results], seconds)
