"""Token and cost estimates of the remote fine-tuning jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from repo_agent.cli.app import app
from repo_agent.files import read_jsonl
from repo_agent.runtime.tools import openai_tool_schemas
from repo_agent.training.estimate import (
    approx_tokens,
    estimate_jobs,
    message_tokens,
    preference_row_tokens,
    sft_row_tokens,
    tools_tokens,
)

USER = {"role": "user", "content": "x" * 40}  # 10 tokens + 4 overhead
GOOD = {"role": "assistant", "content": "y" * 20}  # 5 + 4
BAD = {"role": "assistant", "content": "z" * 8}  # 2 + 4


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    sft = tmp_path / "sft.jsonl"
    sft.write_text(
        json.dumps({"messages": [USER, GOOD]})
        + "\n\n"
        + json.dumps({"messages": [USER, GOOD]})
        + "\n"
    )
    pairs = tmp_path / "pairs.jsonl"
    row = {"input": {"messages": [USER]}, "preferred_output": [GOOD], "non_preferred_output": [BAD]}
    pairs.write_text(json.dumps(row) + "\n")
    return sft, pairs


def test_token_approximation() -> None:
    assert approx_tokens("") == 0 and approx_tokens("abcde") == 2
    assert message_tokens([USER, GOOD]) == 23
    call = {"role": "assistant", "content": "", "tool_calls": [{"id": "c"}]}
    assert message_tokens([call]) == 4 + approx_tokens(json.dumps([{"id": "c"}]))
    # DPO processes the prompt with both replies.
    row = {"input": {"messages": [USER]}, "preferred_output": [GOOD], "non_preferred_output": [BAD]}
    assert preference_row_tokens(row) == 2 * 14 + 9 + 6


def test_estimate_jobs(files: tuple[Path, Path]) -> None:
    sft, dpo = estimate_jobs(*files, epochs=3, dpo_epochs=2, price_per_mtok=2.0)
    assert (sft.rows, sft.tokens_per_epoch, sft.training_tokens) == (2, 46, 138)
    assert sft.cost_usd == round(138 * 2.0 / 1e6, 4)
    assert (dpo.rows, dpo.tokens_per_epoch, dpo.training_tokens, dpo.price_per_mtok) == (
        1,
        43,
        86,
        2.0,
    )
    unpriced = estimate_jobs(*files)
    assert unpriced[0].cost_usd is None and unpriced[0].epochs == 3 and unpriced[1].epochs == 1


def test_bad_line_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n[1]\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        read_jsonl(bad)


def test_cli_estimate(files: tuple[Path, Path]) -> None:
    args = ["estimate", "--sft", str(files[0]), "--pairs", str(files[1])]
    result = CliRunner().invoke(app, [*args, "--price-per-mtok", "1000000", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "46" in result.output and "43" in result.output
    assert "estimated total: $89.00" in result.output  # 46 + 43 tokens at $1 each
    unpriced = CliRunner().invoke(app, args)
    assert unpriced.exit_code == 0 and "--price-per-mtok" in unpriced.output


def test_tools_of_native_rows_count_as_prompt_tokens() -> None:
    tools = openai_tool_schemas()
    extra = tools_tokens(tools)
    assert extra == approx_tokens(json.dumps(tools)) > 100
    sft = {"messages": [USER, GOOD]}
    assert sft_row_tokens({**sft, "tools": tools}) == sft_row_tokens(sft) + extra
    pair = {
        "input": {"messages": [USER]},
        "preferred_output": [GOOD],
        "non_preferred_output": [BAD],
    }
    native = {**pair, "input": {"messages": [USER], "tools": tools}}
    # a DPO step reads the prompt, tools included, once per side
    assert preference_row_tokens(native) == preference_row_tokens(pair) + 2 * extra
