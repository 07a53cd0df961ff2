"""Real tiny training: build the embedded student, SFT then DPO, and generate with it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from repo_agent.policies.config import HFConfig
from repo_agent.policies.hf import HFPolicy
from repo_agent.records import Message
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.protocol import ParseError, parse_json_action
from repo_agent.training.config import FinetuneParams
from repo_agent.training.local import train_dpo, train_sft
from repo_agent.training.student import SPECIAL_TOKENS


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


@pytest.fixture(scope="module")
def train_files(tmp_path_factory, oracle_steps) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("rows")
    sft_file = root / "sft.jsonl"
    rows = [{"messages": [m.dump() for m in [*s.messages, s.raw_output]]} for s in oracle_steps]
    sft_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs_file = root / "pairs.jsonl"
    pairs = [
        {
            "input": {"messages": [m.dump() for m in s.messages]},
            "preferred_output": [s.raw_output.dump()],
            "non_preferred_output": [{"role": "assistant", "content": '{"type": "tool'}],
        }
        for s in oracle_steps
    ]
    pairs_file.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    return sft_file, pairs_file


def _params() -> FinetuneParams:
    params = FinetuneParams()
    params.sft.epochs = 1
    params.sft.batch_size = 4
    params.dpo.batch_size = 4
    return params


def _sft_then_dpo(student_dir, train_files, out: Path, live: Path | None = None) -> dict:
    sft_file, pairs_file = train_files
    live_sft, live_dpo = (None, None) if live is None else (live / "sft", live / "dpo")
    sft = train_sft(student_dir, sft_file, out / "sft", _params(), live_dir=live_sft)
    dpo = train_dpo(out / "sft", pairs_file, out / "dpo", _params(), live_dir=live_dpo)
    return {"sft": sft, "dpo": dpo}


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory, student_dir, train_files) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("plain")
    return out, _sft_then_dpo(student_dir, train_files, out)


def test_sft_then_dpo_log_losses_and_change_weights(student_dir, oracle_steps, plain_run) -> None:
    out, result = plain_run
    sft, dpo = result["sft"], result["dpo"]
    assert sft["rows"] == len(oracle_steps)
    assert any("loss" in point for point in sft["curve"])
    before, after = _weights(student_dir), _weights(out / "sft")
    assert any(not torch.equal(before[k], after[k]) for k in before)

    assert any("loss" in p and "rewards/accuracies" in p for p in dpo["curve"])
    after_dpo = _weights(out / "dpo")
    assert any(not torch.equal(after[k], after_dpo[k]) for k in after)


def _tsv(path: Path) -> list[tuple[int, float]]:
    header, *rows = path.read_text().splitlines()
    assert header == f"step\t{path.stem}"
    return [(int(step), float(value)) for step, value in (r.split("\t") for r in rows)]


def test_live_dir_gets_dvclive_metrics_and_weights_stay_identical(
    tmp_path, student_dir, train_files, plain_run, capsys
) -> None:
    plain_out, plain = plain_run
    live = tmp_path / "live"
    result = _sft_then_dpo(student_dir, train_files, tmp_path, live)

    for stage in ("sft", "dpo"):
        weights = tmp_path / stage / "model.safetensors"
        assert weights.read_bytes() == (plain_out / stage / "model.safetensors").read_bytes()
        assert result[stage]["curve"] == plain[stage]["curve"]

    for stage, names in (("sft", ["loss"]), ("dpo", ["loss", "rewards/accuracies"])):
        curve = result[stage]["curve"]
        summary = json.loads((live / stage / "metrics.json").read_text())
        assert summary["loss"] == curve[-1]["loss"]
        assert summary["step"] == curve[-1]["step"]
        assert "loss" in summary["train"]  # the run's mean loss, from the final summary log
        for name in names:
            # One row per logged step, at the trainer's global step.
            rows = _tsv(live / stage / "plots" / "metrics" / f"{name}.tsv")
            assert rows == [(p["step"], p[name]) for p in curve]
        assert not (live / stage / "plots" / "metrics" / "train").exists()
        assert not (live / stage / "dvc.yaml").exists()

    err = capsys.readouterr().err
    assert "\r" not in err  # no progress-bar redraws when stderr is not a terminal
    for stage in ("sft", "dpo"):
        total = result[stage]["curve"][-1]["step"]
        lines = [line for line in err.splitlines() if line.startswith(f"{stage}: ")]
        # 4 steps: a line at every step (~10% of the steps, at least one), then a final one.
        assert len(lines) == total + 1
        for step, line in enumerate(lines[:-1], start=1):
            assert re.fullmatch(
                rf"{stage}: step {step}/{total} \({100 * step // total}%\) loss \d+\.\d{{3}}"
                r" · [\d.]+ s elapsed, ~[\d.]+ s left",
                line,
            ), line
        assert re.fullmatch(rf"{stage}: done, {total} steps in [\d.]+ s", lines[-1])


def test_hf_policy_generates_one_message_per_request_in_batches(student_dir: Path) -> None:
    policy = HFPolicy(HFConfig(model=str(student_dir), max_new_tokens=8, batch_size=2))
    msgs = [Message(role="system", content="s"), Message(role="user", content="Task: fix")]
    reqs = [PolicyRequest(task_id="t", run_id=f"r{i}", messages=msgs) for i in range(3)]
    out = policy.complete(reqs)
    assert len(out) == 3
    assert all(c.message.role == "assistant" and c.usage.completion_tokens <= 8 for c in out)
    # Greedy decoding is deterministic: the same state gives the same action.
    assert out[0].message.content == out[1].message.content
    parse_json_action(out[0].message.content)  # never raises, whatever the model says


def test_untrained_student_is_stopped_once_its_output_cannot_be_json(student_dir: Path) -> None:
    policy = HFPolicy(HFConfig(model=str(student_dir), max_new_tokens=64))
    msgs = [Message(role="system", content="s"), Message(role="user", content="Task: fix")]
    out = policy.complete([PolicyRequest(task_id="t", run_id="r", messages=msgs)])[0]
    assert out.usage.completion_tokens < 64  # a random model never opens with "{"
    assert isinstance(parse_json_action(out.message.content), ParseError)
    full = HFPolicy(
        HFConfig(model=str(student_dir), max_new_tokens=64, stop_on_non_json=False)
    ).complete([PolicyRequest(task_id="t", run_id="r", messages=msgs)])[0]
    assert full.usage.completion_tokens > out.usage.completion_tokens
