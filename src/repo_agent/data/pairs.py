"""Step-level preference pairs: the teacher's next action against the student's on the same
state, or against a synthetic corruption of the teacher's; kept when the rubric margin is large."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict

from repo_agent.data.config import PairParams, RubricParams
from repo_agent.data.corruptions import CORRUPTIONS, as_message
from repo_agent.data.extract import keep_step
from repo_agent.data.rubric import score
from repo_agent.formats import dump_messages, validate_preference_row
from repo_agent.records import PAIR_FORMAT, Message, StepRecord, TeacherLabel
from repo_agent.runtime.config import SMALL_READ_CHARS, ToolProtocol
from repo_agent.runtime.protocol import ParseError, parse_action


class PairExample(BaseModel):
    """A preference row with its provenance (the split stage writes the bare `row`)."""

    model_config = ConfigDict(extra="forbid")
    format: str = PAIR_FORMAT
    task_id: str
    source: str  # student | corruption
    reason: str
    margin: float
    row: dict[str, Any]


def student_reason(step: StepRecord) -> str:
    """Why a student action is worse: its parse-error code, loop flag, or 'worse_action'."""
    if step.parse_error:
        return f"student_{step.parse_error}"
    if step.loop_flags:
        return f"student_{step.loop_flags[0]}"
    return "student_worse_action"


def _pair(
    task_id: str,
    state: list[Message],
    good: Message,
    bad: Message,
    source: str,
    reason: str,
    rubric: RubricParams,
    protocol: ToolProtocol,
    small_read_chars: int,
) -> tuple[PairExample | None, float]:
    margin = score(state, good, rubric, protocol, small_read_chars) - score(
        state, bad, rubric, protocol, small_read_chars
    )
    if margin < rubric.min_margin:
        return None, margin
    row = {
        "input": {"messages": dump_messages(state)},
        "preferred_output": dump_messages([good]),
        "non_preferred_output": dump_messages([bad]),
    }
    validate_preference_row(row)
    return PairExample(
        task_id=task_id, source=source, reason=reason, margin=round(margin, 4), row=row
    ), margin


def build_pairs(
    teacher_steps: list[StepRecord],
    student_steps: list[StepRecord],
    labels: list[TeacherLabel],
    rubric: RubricParams,
    params: PairParams,
    protocol: ToolProtocol = "json",
    small_read_chars: int = SMALL_READ_CHARS,
) -> tuple[list[PairExample], dict[str, Any]]:
    """All kept pairs and the pairs metrics (counts by source and reason, margin statistics).

    Rows are in the chat format of `protocol` (native: function calls and tool messages)."""
    pairs: list[PairExample] = []
    dropped: Counter[str] = Counter()
    margins_all: list[float] = []

    def add(result: tuple[PairExample | None, float], reason: str) -> None:
        example, margin = result
        margins_all.append(margin)
        if example is None:
            dropped[reason] += 1
        else:
            pairs.append(example)

    if params.use_student:
        by_key = {(lb.run_id, lb.step): lb.output for lb in labels}
        for step in student_steps:
            good = by_key.get((step.run_id, step.step))
            if good is None or isinstance(parse_action(good, protocol), ParseError):
                continue
            if step.raw_output.dump() == good.dump():
                continue
            reason = student_reason(step)
            add(
                _pair(
                    step.task_id,
                    step.messages,
                    good,
                    step.raw_output,
                    "student",
                    reason,
                    rubric,
                    protocol,
                    small_read_chars,
                ),
                reason,
            )

    kept_steps = [s for s in teacher_steps if keep_step(s)]
    for step in kept_steps:
        rng = random.Random(f"{params.seed}:{step.run_id}:{step.step}")
        action = step.action
        assert action is not None
        names = list(params.corruptions)
        rng.shuffle(names)
        made = 0
        for name in names:
            if made >= params.corruptions_per_step:
                break
            content = CORRUPTIONS[name](step.messages, action, rng)
            if content is None:
                continue
            bad = as_message(content, protocol)
            add(
                _pair(
                    step.task_id,
                    step.messages,
                    step.raw_output,
                    bad,
                    "corruption",
                    name,
                    rubric,
                    protocol,
                    small_read_chars,
                ),
                name,
            )
            made += 1

    margins = [p.margin for p in pairs]
    metrics: dict[str, Any] = {
        "pairs": len(pairs),
        "candidates": len(margins_all),
        "dropped_low_margin": sum(dropped.values()),
        "teacher_steps_kept": len(kept_steps),
        "pairs_per_kept_step": round(len(pairs) / max(1, len(kept_steps)), 4),
        "by_source": dict(sorted(Counter(p.source for p in pairs).items())),
        "by_reason": dict(sorted(Counter(p.reason for p in pairs).items())),
        "margin": {
            "mean": round(statistics.mean(margins), 4) if margins else 0.0,
            "min": min(margins) if margins else 0.0,
            "max": max(margins) if margins else 0.0,
        },
    }
    return pairs, metrics
