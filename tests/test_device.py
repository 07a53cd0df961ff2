"""Device and precision selection for local models: every combination of the params against
the torch facts of a CPU box, a bf16 GPU and an older fp16-only GPU, and the hf policy's
placement on this (CPU) machine."""

from __future__ import annotations

import itertools
from typing import get_args

import pytest
from pydantic import ValidationError

from repo_agent.device import (
    Device,
    DeviceError,
    DeviceMap,
    DType,
    Placement,
    TorchFacts,
    load_kwargs,
    resolve_placement,
    torch_facts,
)
from repo_agent.policies.config import HFConfig

CPU_BOX = TorchFacts(cuda=False, bf16=False, gpus=0)
GPU = TorchFacts(cuda=True, bf16=True, gpus=2)
OLD_GPU = TorchFacts(cuda=True, bf16=False, gpus=1)


def expected(device: str, dtype: str, facts: TorchFacts, device_map: str) -> Placement | str:
    """The table the resolver must follow, written out independently: a Placement or the
    start of the error it must raise."""
    if device == "cuda" and not facts.cuda:
        return "device: cuda, but torch sees no CUDA GPU"
    where = "cuda" if device == "cuda" or (device == "auto" and facts.cuda) else "cpu"
    if dtype == "auto":
        dtype = {"cpu": "float32", "cuda": "bfloat16" if facts.bf16 else "float16"}[where]
    if where == "cpu" and dtype == "float16":
        return "dtype: float16 is not supported on the CPU"
    if where == "cuda" and dtype == "bfloat16" and not facts.bf16:
        return "dtype: bfloat16, but this GPU has none"
    return Placement(where, dtype, device_map if where == "cuda" else "none")  # type: ignore[arg-type]


COMBINATIONS = list(
    itertools.product(
        get_args(Device), get_args(DType), [CPU_BOX, GPU, OLD_GPU], get_args(DeviceMap)
    )
)


@pytest.mark.parametrize(("device", "dtype", "facts", "device_map"), COMBINATIONS)
def test_every_combination_resolves_or_names_what_is_missing(
    device: Device, dtype: DType, facts: TorchFacts, device_map: DeviceMap
) -> None:
    want = expected(device, dtype, facts, device_map)
    if isinstance(want, str):
        with pytest.raises(DeviceError) as err:
            resolve_placement(device, dtype, facts, device_map)
        message = str(err.value)
        assert message.startswith(want)
        assert "\n" not in message and " or " in message  # one line naming the way out
    else:
        assert resolve_placement(device, dtype, facts, device_map) == want


def test_auto_is_todays_cpu_float32_without_a_gpu_and_bf16_on_one() -> None:
    assert resolve_placement("auto", "auto", CPU_BOX) == Placement("cpu", "float32")
    assert resolve_placement("auto", "auto", GPU) == Placement("cuda", "bfloat16")
    assert resolve_placement("auto", "auto", OLD_GPU) == Placement("cuda", "float16")
    # The params' defaults: the CPU in float32 even on a GPU box (the default stays CPU-only).
    default = HFConfig()
    assert resolve_placement(default.device, default.dtype, GPU, default.device_map) == Placement(
        "cpu", "float32"
    )


def test_device_map_auto_falls_back_to_one_cpu_without_a_gpu() -> None:
    assert resolve_placement("auto", "auto", CPU_BOX, "auto") == Placement("cpu", "float32")
    assert load_kwargs(resolve_placement("auto", "auto", GPU, "auto")) == {
        "dtype": "bfloat16",
        "device_map": "auto",
    }


def test_device_map_auto_with_device_cpu_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="device_map: auto spreads a model over GPUs"):
        HFConfig(device="cpu", device_map="auto")
    HFConfig(device="auto", device_map="auto")
    with pytest.raises(ValidationError, match="device"):
        HFConfig(device="gpu")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="dtype"):
        HFConfig(dtype="int8")  # type: ignore[arg-type]


@pytest.mark.skipif(torch_facts().cuda, reason="torch sees a CUDA GPU here")
def test_without_a_gpu_cuda_fails_at_once(tmp_path) -> None:
    """The hf policy resolves its placement before loading anything: a clear error, no model."""
    from repo_agent.policies.hf import HFPolicy

    with pytest.raises(DeviceError, match="torch sees no CUDA GPU"):
        HFPolicy(HFConfig(model=str(tmp_path / "nothing-here"), device="cuda"))
