"""Tokens in the SFT and preference files and the estimated cost of the remote jobs, before
anything is uploaded.

Tokens are approximated, not counted with the model's tokenizer: one token per 4 characters of
text (the usual rule of thumb for English and code with BPE tokenizers), plus 4 tokens per
message for the chat template's role markers. Expect the provider's count to differ by ±20 %.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from repo_agent.files import read_jsonl

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


def approx_tokens(text: str) -> int:
    """≈ tokens in a text.

    >>> approx_tokens("def f(x):\\n    return x + 1\\n")
    7
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def message_tokens(messages: list[dict[str, Any]]) -> int:
    """≈ tokens of chat messages: content, tool calls (as JSON) and per-message overhead.

    >>> message_tokens([{"role": "user", "content": "fix it"}])
    6
    """
    total = 0
    for m in messages:
        total += TOKENS_PER_MESSAGE + approx_tokens(m.get("content") or "")
        if m.get("tool_calls"):
            total += approx_tokens(json.dumps(m["tool_calls"]))
    return total


def tools_tokens(tools: list[dict[str, Any]] | None) -> int:
    """≈ tokens of a row's tool schemas, which the chat template renders into the prompt.

    >>> tools_tokens(None), tools_tokens([{"type": "function"}])
    (0, 6)
    """
    return approx_tokens(json.dumps(tools)) if tools else 0


def sft_row_tokens(row: dict[str, Any]) -> int:
    return message_tokens(row["messages"]) + tools_tokens(row.get("tools"))


def preference_row_tokens(row: dict[str, Any]) -> int:
    """A DPO step processes the prompt twice: once with the preferred, once with the other reply.

    >>> preference_row_tokens({"input": {"messages": [{"role": "user", "content": "abcd"}]},
    ...     "preferred_output": [{"role": "assistant", "content": "ok"}],
    ...     "non_preferred_output": [{"role": "assistant", "content": "no"}]})
    20
    """
    prompt = message_tokens(row["input"]["messages"]) + tools_tokens(row["input"].get("tools"))
    return (
        2 * prompt
        + message_tokens(row["preferred_output"])
        + message_tokens(row["non_preferred_output"])
    )


class JobEstimate(BaseModel):
    """One fine-tuning job: rows, tokens per epoch, epochs, billed tokens and cost."""

    job: str
    rows: int
    tokens_per_epoch: int
    epochs: int
    training_tokens: int
    price_per_mtok: float | None
    cost_usd: float | None


def estimate_job(
    job: str, rows: list[dict[str, Any]], epochs: int, price_per_mtok: float | None
) -> JobEstimate:
    count = sft_row_tokens if job == "sft" else preference_row_tokens
    per_epoch = sum(count(r) for r in rows)
    tokens = per_epoch * epochs
    cost = None if price_per_mtok is None else round(tokens * price_per_mtok / 1_000_000, 4)
    return JobEstimate(
        job=job,
        rows=len(rows),
        tokens_per_epoch=per_epoch,
        epochs=epochs,
        training_tokens=tokens,
        price_per_mtok=price_per_mtok,
        cost_usd=cost,
    )


def estimate_jobs(
    sft_path: Path,
    pairs_path: Path,
    epochs: int = 3,
    dpo_epochs: int = 1,
    price_per_mtok: float | None = None,
    dpo_price_per_mtok: float | None = None,
) -> list[JobEstimate]:
    """Estimates for the SFT job and the DPO job (the DPO price defaults to the SFT price)."""
    dpo_price = price_per_mtok if dpo_price_per_mtok is None else dpo_price_per_mtok
    return [
        estimate_job("sft", read_jsonl(sft_path), epochs, price_per_mtok),
        estimate_job("dpo", read_jsonl(pairs_path), dpo_epochs, dpo_price),
    ]
