"""Real tiny training: build the embedded student, SFT then DPO, and generate with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from repo_agent.policies.config import PolicyConfig
from repo_agent.policies.hf import HFPolicy
from repo_agent.policies.oracle import OraclePolicy
from repo_agent.records import Message
from repo_agent.runtime.agent import RunSpec, run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.protocol import ParseError, parse_json_action
from repo_agent.training.config import FinetuneParams, StudentBuild
from repo_agent.training.local import train_dpo, train_sft
from repo_agent.training.student import SPECIAL_TOKENS, build_student

TINY = StudentBuild(
    vocab_size=400,
    hidden_size=32,
    num_layers=1,
    num_heads=2,
    num_kv_heads=1,
    intermediate_size=64,
    max_positions=2048,
    seed=0,
)


@pytest.fixture(scope="module")
def oracle_steps(builtin_tasks):
    tasks = builtin_tasks[:3]
    steps = []
    run_episodes(
        [RunSpec(t, f"{t.id}:t:0") for t in tasks],
        OraclePolicy(tasks),
        AgentConfig(test_policy="never"),
        lambda s, _line: steps.extend(s),
    )
    return steps


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory, oracle_steps) -> Path:
    texts = [m.content or "" for s in oracle_steps for m in [*s.messages, s.raw_output]]
    return build_student(texts, TINY, tmp_path_factory.mktemp("student") / "base")


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_student_tokenizer_keeps_role_markers_whole(student_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(student_dir)
    for special in SPECIAL_TOKENS:
        assert len(tok.encode(special, add_special_tokens=False)) == 1
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "{}"}],
        tokenize=False,
    )
    assert text == "<|user|>hi<|end|><|assistant|>{}<|end|>"


def test_sft_then_dpo_log_losses_and_change_weights(tmp_path, student_dir, oracle_steps) -> None:
    sft_file = tmp_path / "sft.jsonl"
    rows = [{"messages": [m.dump() for m in [*s.messages, s.raw_output]]} for s in oracle_steps]
    sft_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    params = FinetuneParams()
    params.sft.epochs = 1
    params.sft.batch_size = 4
    params.dpo.batch_size = 4
    sft = train_sft(student_dir, sft_file, tmp_path / "sft", params)
    assert sft["rows"] == len(rows)
    assert any("loss" in point for point in sft["curve"])
    before, after = _weights(student_dir), _weights(tmp_path / "sft")
    assert any(not torch.equal(before[k], after[k]) for k in before)

    pairs_file = tmp_path / "pairs.jsonl"
    pairs = [
        {
            "input": {"messages": [m.dump() for m in s.messages]},
            "preferred_output": [s.raw_output.dump()],
            "non_preferred_output": [{"role": "assistant", "content": '{"type": "tool'}],
        }
        for s in oracle_steps
    ]
    pairs_file.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    dpo = train_dpo(tmp_path / "sft", pairs_file, tmp_path / "dpo", params)
    assert any("loss" in p and "rewards/accuracies" in p for p in dpo["curve"])
    after_dpo = _weights(tmp_path / "dpo")
    assert any(not torch.equal(after[k], after_dpo[k]) for k in after)


def test_hf_policy_generates_one_message_per_request_in_batches(student_dir: Path) -> None:
    policy = HFPolicy(
        PolicyConfig(kind="hf", model=str(student_dir), max_new_tokens=8, batch_size=2)
    )
    msgs = [Message(role="system", content="s"), Message(role="user", content="Task: fix")]
    reqs = [PolicyRequest(task_id="t", run_id=f"r{i}", messages=msgs) for i in range(3)]
    out = policy.complete(reqs)
    assert len(out) == 3
    assert all(c.message.role == "assistant" and c.usage.completion_tokens <= 8 for c in out)
    # Greedy decoding is deterministic: the same state gives the same action.
    assert out[0].message.content == out[1].message.content
    parse_json_action(out[0].message.content)  # never raises, whatever the model says


def test_untrained_student_is_stopped_once_its_output_cannot_be_json(student_dir: Path) -> None:
    policy = HFPolicy(PolicyConfig(kind="hf", model=str(student_dir), max_new_tokens=64))
    msgs = [Message(role="system", content="s"), Message(role="user", content="Task: fix")]
    out = policy.complete([PolicyRequest(task_id="t", run_id="r", messages=msgs)])[0]
    assert out.usage.completion_tokens < 64  # a random model never opens with "{"
    assert isinstance(parse_json_action(out.message.content), ParseError)
    full = HFPolicy(
        PolicyConfig(kind="hf", model=str(student_dir), max_new_tokens=64, stop_on_non_json=False)
    ).complete([PolicyRequest(task_id="t", run_id="r", messages=msgs)])[0]
    assert full.usage.completion_tokens > out.usage.completion_tokens
