"""Native-protocol rows in local TRL training: the rows' `tools` reach the chat template, in SFT
and in DPO, on a tiny student whose template renders tools the way a Qwen template does."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny import TINY
from transformers import AutoTokenizer

from repo_agent.data.config import PairParams, RubricParams
from repo_agent.data.extract import extract_sft
from repo_agent.data.pairs import build_pairs
from repo_agent.files import write_jsonl
from repo_agent.policies.oracle import OraclePolicy
from repo_agent.records import ResultLine, StepRecord
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.runtime.tools import TOOLS
from repo_agent.training.config import FinetuneParams
from repo_agent.training.local import dpo_trainer, sft_trainer, train_dpo, train_sft
from repo_agent.training.student import build_student

# The embedded student's template plus what a Qwen template does with tools: the function
# schemas in a block before the conversation, and the assistant's tool calls as text.
TOOLS_TEMPLATE = (
    "{% if tools %}<|system|>{% for t in tools %}"
    "{{ t['function']['name'] }}: {{ t['function']['description'] }}\n"
    "{% endfor %}<|end|>{% endif %}"
    "{% for m in messages %}"
    "{% if m['role'] == 'assistant' %}<|assistant|>{% generation %}{{ m['content'] or '' }}"
    "{% for c in m['tool_calls'] or [] %}"
    "{{ c['function']['name'] }}({{ c['function']['arguments'] }}){% endfor %}"
    "<|end|>{% endgeneration %}"
    "{% else %}<|{{ m['role'] }}|>{{ m['content'] or '' }}<|end|>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
RENDERED_TOOLS = [f"{t.name}: {t.description}" for t in TOOLS.values()]


@pytest.fixture(scope="module")
def native_run(builtin_tasks) -> tuple[list[StepRecord], list[ResultLine]]:
    tasks = builtin_tasks[:2]
    steps: list[StepRecord] = []
    results: list[ResultLine] = []

    def keep(s: list[StepRecord], line: ResultLine) -> None:
        steps.extend(s)
        results.append(line)

    run_episodes(
        [RunSpec(t, f"{t.id}:t:0") for t in tasks],
        OraclePolicy(tasks, protocol="native"),
        AgentConfig(tool_protocol="native", test_policy="never"),
        keep,
    )
    return steps, results


@pytest.fixture(scope="module")
def files(tmp_path_factory, native_run) -> tuple[Path, Path]:
    """The bare SFT and preference rows the pipeline writes under the native protocol."""
    steps, results = native_run
    root = tmp_path_factory.mktemp("native_rows")
    sft, _ = extract_sft(steps, results, protocol="native")
    pairs, _ = build_pairs(steps, RubricParams(), PairParams(), "native")
    assert sft and pairs and all("tools" in e.row for e in sft)
    write_jsonl(root / "sft.jsonl", [e.row for e in sft])
    write_jsonl(root / "pairs.jsonl", [e.row for e in pairs])
    return root / "sft.jsonl", root / "pairs.jsonl"


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory, native_run) -> Path:
    steps, _ = native_run
    texts = [m.content or "" for s in steps for m in [*s.messages, s.raw_output]]
    out = build_student(texts, TINY, tmp_path_factory.mktemp("student") / "base")
    tok = AutoTokenizer.from_pretrained(out)
    tok.chat_template = TOOLS_TEMPLATE
    tok.save_pretrained(out)
    return out


def _params() -> FinetuneParams:
    params = FinetuneParams()
    params.sft.epochs = 1
    params.sft.batch_size = 4
    params.dpo.batch_size = 4
    return params


def test_sft_renders_the_tools_into_the_prompt(student_dir: Path, files, tmp_path) -> None:
    trainer, rows, _ = sft_trainer(student_dir, files[0], tmp_path / "sft", _params())
    assert rows == len(trainer.train_dataset)
    tok = trainer.processing_class
    completions = []
    for example in trainer.train_dataset:
        ids, labels = example["input_ids"], example["labels"]
        prompt = tok.decode([t for t, label in zip(ids, labels, strict=True) if label == -100])
        completion = tok.decode([label for label in labels if label != -100])
        assert all(line in prompt for line in RENDERED_TOOLS)  # seen, not learned
        assert not any(line in completion for line in RENDERED_TOOLS)
        completions.append(completion)
    # the learned actions are native tool calls, rendered by the template too
    assert any("read_file(" in c for c in completions)


def test_dpo_renders_the_tools_into_the_prompt(student_dir: Path, files, tmp_path) -> None:
    trainer, rows, _ = dpo_trainer(student_dir, files[1], tmp_path / "dpo", _params())
    assert rows == len(trainer.train_dataset)
    tok = trainer.processing_class
    for example in trainer.train_dataset:
        prompt = tok.decode(example["prompt_ids"])
        assert all(line in prompt for line in RENDERED_TOOLS)
        assert not any(line in tok.decode(example["chosen_ids"]) for line in RENDERED_TOOLS)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_sft_then_dpo_train_on_rows_with_tools(student_dir: Path, files, tmp_path) -> None:
    sft = train_sft(student_dir, files[0], tmp_path / "sft", _params())
    assert any("loss" in point for point in sft["curve"])
    before, after = _weights(student_dir), _weights(tmp_path / "sft")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    dpo = train_dpo(tmp_path / "sft", files[1], tmp_path / "dpo", _params())
    assert any("loss" in p and "rewards/accuracies" in p for p in dpo["curve"])


def test_rows_with_and_without_tools_are_not_mixed(student_dir: Path, files, tmp_path) -> None:
    mixed = tmp_path / "mixed.jsonl"
    lines = files[0].read_text().splitlines()
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    write_jsonl(mixed, [row])
    mixed.write_text(mixed.read_text() + "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="some rows carry tools and some do not"):
        sft_trainer(student_dir, mixed, tmp_path / "sft", _params())
