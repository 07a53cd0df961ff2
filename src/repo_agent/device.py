"""Where a local model runs and in what precision: a pure resolution of the `device`, `dtype` and
`device_map` params against what torch reports, so every combination is tested on a CPU."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

Device = Literal["auto", "cpu", "cuda"]
DType = Literal["auto", "float32", "bfloat16", "float16"]
DeviceMap = Literal["none", "auto"]
ResolvedDevice = Literal["cpu", "cuda"]
ResolvedDType = Literal["float32", "bfloat16", "float16"]


class TorchFacts(NamedTuple):
    """What torch reports about the machine (`torch_facts()` reads them)."""

    cuda: bool  # torch.cuda.is_available()
    bf16: bool = True  # torch.cuda.is_bf16_supported() (Ampere or newer); unused without cuda
    gpus: int = 0  # torch.cuda.device_count()


class Placement(NamedTuple):
    device: ResolvedDevice
    dtype: ResolvedDType
    device_map: DeviceMap = "none"


class DeviceError(ValueError):
    """The requested device or precision is not available here."""


def resolve_placement(
    device: Device, dtype: DType, facts: TorchFacts, device_map: DeviceMap = "none"
) -> Placement:
    """The device and dtype a model loads with, or a one-line DeviceError saying what to change.

    >>> resolve_placement("auto", "auto", TorchFacts(cuda=False))
    Placement(device='cpu', dtype='float32', device_map='none')
    >>> resolve_placement("auto", "auto", TorchFacts(cuda=True, gpus=1))
    Placement(device='cuda', dtype='bfloat16', device_map='none')
    >>> resolve_placement("auto", "auto", TorchFacts(cuda=True, bf16=False, gpus=1))
    Placement(device='cuda', dtype='float16', device_map='none')
    """
    if device == "cuda" and not facts.cuda:
        raise DeviceError(
            "device: cuda, but torch sees no CUDA GPU (torch.cuda.is_available() is False): "
            "install a CUDA build of torch on a GPU machine, or set device: auto or cpu"
        )
    where: ResolvedDevice = (
        "cuda" if device == "cuda" or (device == "auto" and facts.cuda) else "cpu"
    )
    if dtype == "auto":
        precision: ResolvedDType = (
            "float32" if where == "cpu" else "bfloat16" if facts.bf16 else "float16"
        )
    else:
        precision = dtype
    if where == "cpu" and precision == "float16":
        raise DeviceError(
            "dtype: float16 is not supported on the CPU (half-precision matmuls there are slow "
            "or missing); use float32 (or bfloat16), or a GPU"
        )
    if where == "cuda" and precision == "bfloat16" and not facts.bf16:
        raise DeviceError(
            "dtype: bfloat16, but this GPU has none (it needs compute capability 8.0, Ampere, or "
            "newer); use dtype: float16 or auto"
        )
    # device_map auto only means something on GPUs; with device auto on a CPU-only machine the
    # model loads as it always has.
    return Placement(where, precision, device_map if where == "cuda" else "none")


def torch_facts() -> TorchFacts:
    """Read the facts from torch (imports it)."""
    import torch

    cuda = torch.cuda.is_available()
    return TorchFacts(
        cuda=cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        gpus=torch.cuda.device_count() if cuda else 0,
    )


def load_kwargs(placement: Placement) -> dict[str, Any]:
    """Keyword arguments for `from_pretrained` (dtype as a name; transformers accepts that). On
    a GPU the weights load straight onto it (no full copy in RAM first); `device_map: auto`
    spreads them over every visible GPU. The CPU load is the one the project always made.

    >>> load_kwargs(Placement("cpu", "float32"))
    {'dtype': 'float32'}
    >>> load_kwargs(Placement("cuda", "bfloat16"))
    {'dtype': 'bfloat16', 'device_map': 'cuda'}
    >>> load_kwargs(Placement("cuda", "bfloat16", "auto"))
    {'dtype': 'bfloat16', 'device_map': 'auto'}
    """
    kwargs: dict[str, Any] = {"dtype": placement.dtype}
    if placement.device == "cuda":
        kwargs["device_map"] = "auto" if placement.device_map == "auto" else "cuda"
    return kwargs
