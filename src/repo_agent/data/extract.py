"""Step-level SFT extraction: each kept teacher step becomes one chat row ending in its action."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from repo_agent.formats import sft_row, validate_sft_row
from repo_agent.records import SFT_FORMAT, ResultLine, StepRecord
from repo_agent.runtime.config import ToolProtocol
from repo_agent.runtime.tools import openai_tool_schemas

EXTRACT_FORMAT = SFT_FORMAT


class SFTExample(BaseModel):
    """An SFT row with where it came from (the split stage writes the bare `row`)."""

    model_config = ConfigDict(extra="forbid")
    format: str = EXTRACT_FORMAT
    task_id: str
    run_id: str
    step: int
    row: dict[str, Any]


def protocol_tools(protocol: ToolProtocol) -> list[dict[str, Any]] | None:
    """The tools a row of `protocol` carries: under native, the function schemas the agent
    offers the model (runtime.tools); under json none, since the system prompt describes them."""
    return openai_tool_schemas() if protocol == "native" else None


def keep_step(step: StepRecord) -> bool:
    """A step worth imitating: it parsed, triggered no loop flag and its tool did not fail."""
    return step.parse_error is None and not step.loop_flags and not step.tool_error


def extract_sft(
    steps: list[StepRecord],
    results: list[ResultLine],
    require_success: bool = False,
    dedupe: bool = True,
    max_chars: int = 6000,
    protocol: ToolProtocol = "json",
) -> tuple[list[SFTExample], dict[str, int]]:
    """Rows `{"messages": state + [action]}` from kept steps, plus counts of what was dropped;
    under the native `protocol` each row also carries its `tools`.

    Steps of failed runs are kept unless `require_success`; rows over `max_chars` (of message
    content) are dropped (the agent's context window already bounds them, identically at train
    and run time).
    """
    tools = protocol_tools(protocol)
    success = {r.result.run_id: r.result.success for r in results}
    counts = {"steps": len(steps), "invalid": 0, "failed_run": 0, "too_long": 0, "duplicate": 0}
    seen: set[str] = set()
    rows: list[SFTExample] = []
    for step in steps:
        if not keep_step(step):
            counts["invalid"] += 1
            continue
        if require_success and not success.get(step.run_id, False):
            counts["failed_run"] += 1
            continue
        row = sft_row([*step.messages, step.raw_output], tools)
        if sum(len(m.get("content") or "") for m in row["messages"]) > max_chars:
            counts["too_long"] += 1
            continue
        key = json.dumps(row, sort_keys=True)
        if dedupe and key in seen:
            counts["duplicate"] += 1
            continue
        seen.add(key)
        validate_sft_row(row)
        rows.append(SFTExample(task_id=step.task_id, run_id=step.run_id, step=step.step, row=row))
    counts["rows"] = len(rows)
    return rows, counts
