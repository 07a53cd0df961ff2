"""The local training plan for every device / precision / quantization setting against a CPU
box, a bf16 GPU box and an fp16-only GPU, with and without bitsandbytes; and the accelerate
launch command. Pure: no training here (tests/training/test_gpu_settings.py trains)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError

from repo_agent.device import Device, DeviceError, TorchFacts
from repo_agent.pipeline.params import ParamsError, parse_params
from repo_agent.training.config import FinetuneParams, Precision
from repo_agent.training.hardware import (
    MachineFacts,
    TrainingPlan,
    plan_training,
    quantization_kwargs,
    trainer_args,
)
from repo_agent.training.launch import launch_command

CPU_BOX = MachineFacts(TorchFacts(cuda=False, bf16=False, gpus=0), bitsandbytes=False)
GPU_BOX = MachineFacts(TorchFacts(cuda=True, bf16=True, gpus=4), bitsandbytes=True)
OLD_GPU_BOX = MachineFacts(TorchFacts(cuda=True, bf16=False, gpus=1), bitsandbytes=True)
GPU_NO_BNB = MachineFacts(TorchFacts(cuda=True, bf16=True, gpus=1), bitsandbytes=False)


def test_the_default_is_the_cpu_run_even_on_a_gpu_box() -> None:
    """bf16 autocast without gradient checkpointing (the small student needs no memory
    saving), on the CPU, also where a GPU is present."""
    for facts in (CPU_BOX, GPU_BOX):
        plan = plan_training(FinetuneParams(), facts)
        assert plan == TrainingPlan("cpu", "bf16", False, False)
        assert trainer_args(plan) == {
            "use_cpu": True,
            "bf16": True,
            "fp16": False,
            "gradient_checkpointing": False,
        }
    assert quantization_kwargs(plan) == {}


def test_the_documented_7b_setting_on_one_gpu() -> None:
    params = FinetuneParams(device="cuda", lora=True, precision="bf16", gradient_checkpointing=True)
    plan = plan_training(params, GPU_BOX)
    assert trainer_args(plan) == {
        "use_cpu": False,
        "bf16": True,
        "fp16": False,
        "gradient_checkpointing": True,
    }
    qlora = FinetuneParams(device="auto", lora=True, quantization="4bit")
    assert quantization_kwargs(plan_training(qlora, GPU_BOX)) == {
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
        "bnb_4bit_compute_dtype": "bfloat16",
    }
    old = quantization_kwargs(plan_training(qlora, OLD_GPU_BOX))
    assert old["bnb_4bit_compute_dtype"] == "float16"


@pytest.mark.parametrize(
    ("device", "precision", "facts"),
    list(
        itertools.product(
            get_args(Device), get_args(Precision), [CPU_BOX, GPU_BOX, OLD_GPU_BOX, GPU_NO_BNB]
        )
    ),
)
def test_every_device_and_precision(device, precision, facts: MachineFacts) -> None:
    params = FinetuneParams(device=device, precision=precision)
    where = "cuda" if device == "cuda" or (device == "auto" and facts.torch.cuda) else "cpu"
    want = precision
    if precision == "auto":
        want = "fp16" if where == "cuda" and not facts.torch.bf16 else "bf16"
    error = None
    if device == "cuda" and not facts.torch.cuda:
        error = "device: cuda, but torch sees no CUDA GPU"
    elif want == "fp16" and where == "cpu":
        error = "finetune.precision: fp16 needs a CUDA GPU"
    elif want == "bf16" and where == "cuda" and not facts.torch.bf16:
        error = "finetune.precision: bf16, but this GPU has none"
    if error is None:
        plan = plan_training(params, facts)
        assert (plan.device, plan.precision) == (where, want)
    else:
        with pytest.raises(DeviceError) as err:
            plan_training(params, facts)
        assert str(err.value).startswith(error) and "\n" not in str(err.value)


def test_qlora_needs_lora_bitsandbytes_and_a_gpu() -> None:
    with pytest.raises(ValidationError, match="set lora: true"):
        FinetuneParams(quantization="4bit")
    with pytest.raises(ParamsError, match="set lora: true"):
        parse_params({"finetune": {"quantization": "4bit"}})
    qlora = FinetuneParams(lora=True, quantization="4bit", device="auto")
    for facts in (CPU_BOX, GPU_NO_BNB):  # bitsandbytes missing: say what to install
        with pytest.raises(
            DeviceError, match=r"pip install -e '\.\[gpu\]' \(or pip install bitsandbytes\)"
        ):
            plan_training(qlora, facts)
    cpu_with_bnb = MachineFacts(CPU_BOX.torch, bitsandbytes=True)
    with pytest.raises(DeviceError, match="4bit \\(QLoRA\\) needs a CUDA GPU"):
        plan_training(qlora, cpu_with_bnb)


def test_more_processes_than_gpus_is_an_error() -> None:
    with pytest.raises(DeviceError, match="num_processes: 8, but torch sees 4 GPU"):
        plan_training(FinetuneParams(device="cuda", num_processes=8), GPU_BOX)
    assert plan_training(FinetuneParams(device="cuda", num_processes=4), GPU_BOX).device == "cuda"
    # On the CPU the processes share the cores (gloo), as a CPU test of the launch path.
    assert plan_training(FinetuneParams(num_processes=2), CPU_BOX).device == "cpu"
    with pytest.raises(ValidationError):
        FinetuneParams(num_processes=0)


def test_launch_command() -> None:
    job = Path("/tmp/job.json")
    gpu = plan_training(FinetuneParams(device="cuda", num_processes=4), GPU_BOX)
    assert launch_command(job, 1, gpu) is None  # one process: train in the stage's own process
    assert launch_command(job, 4, gpu, python="py") == [
        "py",
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        "4",
        "--num_machines",
        "1",
        "--mixed_precision",
        "bf16",
        "--dynamo_backend",
        "no",
        "--multi_gpu",
        "-m",
        "repo_agent.training.launch",
        "/tmp/job.json",
    ]
    cpu = plan_training(FinetuneParams(precision="fp32", num_processes=2), CPU_BOX)
    cmd = launch_command(job, 2, cpu, python="py")
    assert cmd is not None and "--cpu" in cmd and "--multi_gpu" not in cmd
    assert cmd[cmd.index("--mixed_precision") + 1] == "no"
