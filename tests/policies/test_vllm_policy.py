"""The vllm policy: without vLLM or a GPU it fails at once with what to install,
its config validates, and its requests (prompt tokens, sampling and structured-output
arguments) are built exactly as the hf policy prompts. The engine itself is not run here."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from repo_agent.device import torch_facts
from repo_agent.pipeline.params import ParamsError, parse_params
from repo_agent.policies.config import HFConfig, VLLMConfig
from repo_agent.policies.factory import batch_size_for, make_policy
from repo_agent.policies.hf import HFPolicy, chat_prompt_ids
from repo_agent.policies.schemas import action_schema
from repo_agent.policies.vllm_policy import (
    VLLMUnavailableError,
    engine_kwargs,
    sampling_kwargs,
    structured_outputs_kwargs,
    to_completions,
    vllm_unavailable_reason,
)
from repo_agent.records import Message
from repo_agent.runtime.policy import PolicyRequest

MESSAGES = [
    Message(role="system", content="You fix repositories. Answer with one JSON object."),
    Message(role="user", content="Task: fix the off-by-one in bsearch.py"),
]


def test_reasons_name_what_to_install_or_that_a_gpu_is_needed() -> None:
    assert vllm_unavailable_reason(True, True) is None
    missing = vllm_unavailable_reason(False, False)
    assert missing is not None and "pip install -e '.[gpu]'" in missing
    assert "pip install vllm" in missing
    no_gpu = vllm_unavailable_reason(True, False)
    assert no_gpu is not None and "needs a CUDA GPU" in no_gpu and "kind: hf" in no_gpu
    assert all("\n" not in r for r in (missing, no_gpu))


_HAS_VLLM = importlib.util.find_spec("vllm") is not None
# Why this machine cannot run the engine (None: it has vLLM and a CUDA GPU).
UNAVAILABLE = vllm_unavailable_reason(_HAS_VLLM, _HAS_VLLM and torch_facts().cuda)


@pytest.mark.skipif(UNAVAILABLE is None, reason="vLLM and a CUDA GPU are here: it would load")
def test_making_the_policy_without_vllm_or_a_gpu_fails_at_once_with_the_reason(
    student_dir: Path,
) -> None:
    with pytest.raises(VLLMUnavailableError) as err:
        make_policy(VLLMConfig(model=str(student_dir)), [], "json")
    assert str(err.value) == UNAVAILABLE


def test_the_native_protocol_is_refused_before_loading(tmp_path: Path) -> None:
    config = VLLMConfig(model=str(tmp_path / "no-model-here"))
    with pytest.raises(ValueError, match="json tool protocol only"):
        make_policy(config, [], "native")


def test_config_validation() -> None:
    config = VLLMConfig(model="m", tensor_parallel_size=4, batch_size=64)
    assert batch_size_for(config) == 64
    for bad in ({"tensor_parallel_size": 0}, {"gpu_memory_utilization": 0}):
        with pytest.raises(ValidationError):
            VLLMConfig(model="m", **bad)
    with pytest.raises(ValidationError, match="gpu_memory_utilization"):
        VLLMConfig(model="m", gpu_memory_utilization=1.5)
    VLLMConfig(model="m", constrain="json_schema")
    student = parse_params({"student": {"kind": "vllm", "model": "models/base"}}).student
    assert student.kind == "vllm"
    with pytest.raises(ParamsError, match="vllm student speaks agent.tool_protocol json only"):
        parse_params({"student": {"kind": "vllm"}, "agent": {"tool_protocol": "native"}})


def test_engine_arguments() -> None:
    config = VLLMConfig(
        model="/models/Qwen2.5-7B-Instruct",
        tensor_parallel_size=2,
        gpu_memory_utilization=0.8,
        max_prompt_tokens=4096,
        max_new_tokens=512,
    )
    assert engine_kwargs(config, "bfloat16") == {
        "model": "/models/Qwen2.5-7B-Instruct",
        "dtype": "bfloat16",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.8,
        "max_model_len": 4608,
        "seed": 0,
    }


def test_sampling_arguments_greedy_and_seeded() -> None:
    req = PolicyRequest(task_id="t", run_id="r", seed=3, step=4, messages=MESSAGES)
    greedy = sampling_kwargs(VLLMConfig(top_p=0.9, max_new_tokens=64), req, 5)
    assert greedy == {
        "max_tokens": 64,
        "temperature": 0.0,
        "top_p": 1.0,
        "skip_special_tokens": True,
        "stop_token_ids": [5],
    }
    sampled = sampling_kwargs(VLLMConfig(temperature=0.7, top_p=0.9), req, None)
    assert sampled["seed"] == 3 * 1_000_003 + 4
    assert (sampled["temperature"], sampled["top_p"]) == (0.7, 0.9)
    assert "stop_token_ids" not in sampled


def test_structured_outputs_carry_the_protocol_schema() -> None:
    assert structured_outputs_kwargs(VLLMConfig()) is None
    config = VLLMConfig(constrain="json_schema", max_new_tokens=100)
    assert structured_outputs_kwargs(config) == {
        "json": action_schema(max_content_chars=300),
        "disable_any_whitespace": True,
    }


def test_prompts_are_the_hf_policys_tokens(student_dir: Path) -> None:
    """vLLM gets token ids built exactly as the hf policy builds them (same template, same cut)."""
    hf = HFPolicy(HFConfig(model=str(student_dir), max_prompt_tokens=64))
    long = [*MESSAGES, Message(role="user", content=" ".join(["[tool_result] x = 1"] * 40))]
    full = chat_prompt_ids(hf.tokenizer, long, 10_000)
    assert chat_prompt_ids(hf.tokenizer, long, 64) == hf._prompt_ids(long)
    assert len(full) > 64
    assert chat_prompt_ids(hf.tokenizer, long, 64) == full[-64:]
    assert hf.tokenizer.decode(full[-1:]) == "<|assistant|>"  # ready for the action


@dataclass
class Output:
    """The fields of vLLM's CompletionOutput that the policy reads."""

    text: str
    token_ids: list[int]
    finish_reason: str | None


def test_outputs_become_completions() -> None:
    outs = [
        Output('{"type": "final", "summary": "ok"}', [1, 2, 3], "stop"),
        Output('{"type": "tool_call", "na', [4] * 9, "length"),
    ]
    done = to_completions([[0] * 5, [0] * 7], outs, seconds=1.2)
    assert [c.message.content for c in done] == [o.text for o in outs]
    assert [c.truncated for c in done] == [False, True]
    assert [(c.usage.prompt_tokens, c.usage.completion_tokens) for c in done] == [(5, 3), (7, 9)]
    assert [c.usage.decode_s for c in done] == [0.3, 0.9]


def test_a_vllm_student_serves_its_fine_tunes_with_vllm(tmp_path, monkeypatch) -> None:
    from repo_agent.pipeline import paths
    from repo_agent.pipeline.served import served_policy

    monkeypatch.chdir(tmp_path)
    params = parse_params({"student": {"kind": "vllm", "model": "/models/qwen2.5-7b"}})
    base = served_policy(params, "base", 0.0, tmp_path / "cache")
    assert (base.kind, base.model) == ("vllm", "/models/qwen2.5-7b")
    for model, folder in (("sft", paths.MODELS_SFT), ("dpo", paths.MODELS_DPO)):
        served = served_policy(params, model, 0.0, tmp_path / "cache")
        assert (served.kind, served.model) == ("vllm", str(folder))
    hf = served_policy(parse_params({}), "sft", 0.0, tmp_path / "cache")
    assert hf.kind == "hf"
