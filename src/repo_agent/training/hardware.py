"""Where and how local training runs: a pure plan from the finetune params and what the machine
has (CUDA, bf16, bitsandbytes), so each GPU setting is tested on a CPU."""

from __future__ import annotations

import importlib.util
from typing import Any, Literal, NamedTuple

from repo_agent.device import DeviceError, TorchFacts, resolve_placement, torch_facts
from repo_agent.training.config import FinetuneParams

BNB_INSTALL = "pip install -e '.[gpu]' (or pip install bitsandbytes)"


class MachineFacts(NamedTuple):
    torch: TorchFacts
    bitsandbytes: bool = False


class TrainingPlan(NamedTuple):
    device: Literal["cpu", "cuda"]
    precision: Literal["fp32", "bf16", "fp16"]
    gradient_checkpointing: bool
    quantize_4bit: bool


def machine_facts() -> MachineFacts:
    """Read the facts (imports torch; bitsandbytes is only looked up, not imported)."""
    return MachineFacts(torch_facts(), importlib.util.find_spec("bitsandbytes") is not None)


def plan_training(params: FinetuneParams, facts: MachineFacts) -> TrainingPlan:
    """The plan, or a one-line DeviceError saying what to install or change.

    >>> plan_training(FinetuneParams(), MachineFacts(TorchFacts(cuda=False)))
    TrainingPlan(device='cpu', precision='bf16', gradient_checkpointing=False, quantize_4bit=False)
    """
    device = resolve_placement(params.device, "float32", facts.torch).device
    precision = params.precision
    if precision == "auto":
        precision = "fp16" if device == "cuda" and not facts.torch.bf16 else "bf16"
    if precision == "fp16" and device == "cpu":
        raise DeviceError(
            "finetune.precision: fp16 needs a CUDA GPU (the CPU has no fp16 mixed precision); "
            "use bf16 or fp32, or finetune.device: cuda on a GPU machine"
        )
    if precision == "bf16" and device == "cuda" and not facts.torch.bf16:
        raise DeviceError(
            "finetune.precision: bf16, but this GPU has none (it needs Ampere or newer); use "
            "fp16 or auto"
        )
    quantize = params.quantization == "4bit"
    if quantize and not facts.bitsandbytes:
        raise DeviceError(f"finetune.quantization: 4bit needs bitsandbytes: {BNB_INSTALL}")
    if quantize and device != "cuda":
        raise DeviceError(
            "finetune.quantization: 4bit (QLoRA) needs a CUDA GPU; set finetune.device: cuda "
            "on a GPU machine, or quantization: none"
        )
    gpus = facts.torch.gpus
    if device == "cuda" and params.num_processes > gpus:
        raise DeviceError(
            f"finetune.num_processes: {params.num_processes}, but torch sees {gpus} GPU(s); "
            f"use at most {gpus} (one process per GPU)"
        )
    return TrainingPlan(device, precision, params.gradient_checkpointing, quantize)


def trainer_args(plan: TrainingPlan) -> dict[str, Any]:
    """The TRL config fields the plan sets (the rest stay as local.py writes them).

    >>> trainer_args(TrainingPlan("cuda", "bf16", True, False))
    {'use_cpu': False, 'bf16': True, 'fp16': False, 'gradient_checkpointing': True}
    """
    return {
        "use_cpu": plan.device == "cpu",
        "bf16": plan.precision == "bf16",
        "fp16": plan.precision == "fp16",
        "gradient_checkpointing": plan.gradient_checkpointing,
    }


def quantization_kwargs(plan: TrainingPlan) -> dict[str, Any]:
    """`BitsAndBytesConfig(...)` arguments for QLoRA (NF4, double quantization, compute in
    the plan's half precision), or {} without quantization.

    >>> quantization_kwargs(TrainingPlan("cuda", "bf16", True, True))["bnb_4bit_compute_dtype"]
    'bfloat16'
    """
    if not plan.quantize_4bit:
        return {}
    return {
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
        "bnb_4bit_compute_dtype": "float16" if plan.precision == "fp16" else "bfloat16",
    }
