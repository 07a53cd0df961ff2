"""The GPU training settings, run for real where a CPU can run them: LoRA with gradient
checkpointing (the documented 7B setting), the merge QLoRA uses to save full weights, the
QLoRA error without bitsandbytes, and a job in this process or under `accelerate launch`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from repo_agent.device import DeviceError
from repo_agent.policies.config import HFConfig
from repo_agent.policies.hf import HFPolicy
from repo_agent.training.config import FinetuneParams
from repo_agent.training.launch import TrainJob, train
from repo_agent.training.local import merge_adapter, train_sft


@pytest.fixture(scope="module")
def sft_file(tmp_path_factory, oracle_steps) -> Path:
    path = tmp_path_factory.mktemp("rows") / "sft.jsonl"
    rows = [{"messages": [m.dump() for m in [*s.messages, s.raw_output]]} for s in oracle_steps]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def _params(**update: object) -> FinetuneParams:
    params = FinetuneParams.model_validate(update)
    params.sft.epochs = 1
    params.sft.batch_size = 4
    return params


def test_lora_with_gradient_checkpointing_saves_merged_full_weights(
    tmp_path, student_dir, sft_file
) -> None:
    params = _params(lora=True, lora_r=4, gradient_checkpointing=True)
    params.sft.learning_rate = 0.05  # a visible change in one short epoch
    result = train_sft(student_dir, sft_file, tmp_path / "sft", params)
    assert any("loss" in p for p in result["curve"])
    saved = sorted(p.name for p in (tmp_path / "sft").iterdir())
    assert "model.safetensors" in saved and "adapter_config.json" not in saved
    before, after = _weights(student_dir), _weights(tmp_path / "sft")
    assert before.keys() == after.keys()  # a plain model: LoRA merged in, no lora_ tensors
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # The hf policy loads it as any model.
    HFPolicy(HFConfig(model=str(tmp_path / "sft"), max_new_tokens=4))


def test_merge_adapter_gives_the_adapted_models_outputs(tmp_path, student_dir) -> None:
    """What QLoRA's save does after training: the adapter merged into the start model's weights
    (here on a full-precision model, with non-zero LoRA weights)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(student_dir)
    lora = LoraConfig(r=4, lora_alpha=8, task_type="CAUSAL_LM", init_lora_weights=False)
    adapted = get_peft_model(base, lora).eval()
    adapted.save_pretrained(tmp_path / "adapter")
    ids = torch.tensor([[3, 17, 42, 99, 5]])
    with torch.no_grad():
        want = adapted(ids).logits
        merged = merge_adapter(student_dir, tmp_path / "adapter").eval()
        plain = AutoModelForCausalLM.from_pretrained(student_dir).eval()
        assert torch.allclose(merged(ids).logits, want, atol=1e-5)
        assert not torch.allclose(plain(ids).logits, want, atol=1e-3)
    assert not any("lora" in name for name, _ in merged.named_parameters())


@pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes is installed here"
)
def test_qlora_without_bitsandbytes_fails_before_loading(tmp_path, sft_file) -> None:
    params = _params(lora=True, quantization="4bit", device="auto")
    with pytest.raises(DeviceError, match=r"needs bitsandbytes: pip install -e '\.\[gpu\]'"):
        train_sft(tmp_path / "no-model-here", sft_file, tmp_path / "out", params)


@pytest.mark.skipif(torch.cuda.is_available(), reason="torch sees a CUDA GPU here")
def test_device_cuda_without_a_gpu_fails_before_loading(tmp_path, sft_file) -> None:
    with pytest.raises(DeviceError, match="device: cuda, but torch sees no CUDA GPU"):
        train_sft(tmp_path / "no-model-here", sft_file, tmp_path / "out", _params(device="cuda"))


def test_qlora_settings_are_a_valid_bitsandbytes_config() -> None:
    """transformers accepts the plan's QLoRA arguments (building the config needs no GPU)."""
    from transformers import BitsAndBytesConfig

    from repo_agent.training.hardware import TrainingPlan, quantization_kwargs

    config = BitsAndBytesConfig(**quantization_kwargs(TrainingPlan("cuda", "bf16", True, True)))
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_compute_dtype == torch.bfloat16


def _job(student_dir: Path, sft_file: Path, out: Path, **update: object) -> TrainJob:
    params = _params(**update)
    params.sft.max_length = 256  # short rows: the two-process run stays fast
    return TrainJob(
        method="sft", start=str(student_dir), rows=str(sft_file), out=str(out), params=params
    )


def test_one_process_trains_in_this_process(tmp_path, student_dir, sft_file) -> None:
    job = _job(student_dir, sft_file, tmp_path / "sft")
    result = train(job)
    assert result["rows"] > 0 and result["curve"]
    assert (tmp_path / "sft" / "model.safetensors").is_file()


def test_two_cpu_processes_under_accelerate_launch(tmp_path, student_dir, sft_file) -> None:
    """A real `accelerate launch --cpu --num_processes 2` of a tiny SFT (gloo data parallel;
    ~15 s here): each process takes half of every step's rows; the main one saves and writes
    the result."""
    job = _job(student_dir, sft_file, tmp_path / "sft", num_processes=2, precision="fp32")
    result = train(job)
    single = train(_job(student_dir, sft_file, tmp_path / "one", precision="fp32"))
    assert result["rows"] == single["rows"] > 0
    # Two processes of batch 4 make global batches of 8: half the optimizer steps.
    steps, single_steps = result["curve"][-1]["step"], single["curve"][-1]["step"]
    assert steps == -(-single_steps // 2)
    assert _weights(tmp_path / "sft").keys() == _weights(student_dir).keys()
    assert not (tmp_path / "sft" / "_trainer").exists()
