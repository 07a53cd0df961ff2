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
from repo_agent.data.extract import keep_step, protocol_tools
from repo_agent.data.rubric import score
from repo_agent.formats import preference_row, validate_preference_row
from repo_agent.records import (
    PAIR_FORMAT,
    FinalAction,
    Message,
    StepRecord,
    TeacherLabel,
    ToolCallAction,
)
from repo_agent.runtime.config import LOOP_LIMITS, LoopLimits, ToolProtocol
from repo_agent.runtime.protocol import ParseError, parse_action


class PairExample(BaseModel):
    """A preference row with its provenance (the split stage writes the bare `row`)."""

    model_config = ConfigDict(extra="forbid")
    format: str = PAIR_FORMAT
    task_id: str
    source: str  # corruption | onpolicy
    reason: str
    margin: float
    row: dict[str, Any]


def _pair(
    task_id: str,
    state: list[Message],
    good: Message,
    bad: Message,
    source: str,
    reason: str,
    rubric: RubricParams,
    protocol: ToolProtocol,
    limits: LoopLimits,
) -> tuple[PairExample | None, float]:
    margin = score(state, good, rubric, protocol, limits) - score(
        state, bad, rubric, protocol, limits
    )
    if margin < rubric.min_margin:
        return None, margin
    row = preference_row(state, good, bad, protocol_tools(protocol))
    validate_preference_row(row)
    return PairExample(
        task_id=task_id, source=source, reason=reason, margin=round(margin, 4), row=row
    ), margin


MISSING_PATH_MARKERS = ("no such file", "not found", "does not exist", "not a directory")


def onpolicy_reason(step: StepRecord, good: Message, protocol: ToolProtocol) -> str:
    """What the student did wrong on a state the teacher answered differently.

    Protocol errors keep their parse-error code (`unknown_arg`, `invalid_json`, ...); then a
    loop flag (`exact_repeat`, `tiny_reread`, `repeated_grep`); a tool call naming a path that
    is not there (`missing_path`); another tool error (`tool_error`); `final` where the teacher
    still acts (`premature_final`); a write where the teacher reads or searches first
    (`blind_write`); else `other_action`."""
    if step.parse_error:
        return step.parse_error
    if step.loop_flags:
        return step.loop_flags[0]
    if step.tool_error:
        text = step.observation or ""
        missing = any(m in text.lower() for m in MISSING_PATH_MARKERS)
        return "missing_path" if missing else "tool_error"
    teacher = parse_action(good, protocol)
    if isinstance(step.action, FinalAction) and not isinstance(teacher, FinalAction):
        return "premature_final"
    if (
        isinstance(step.action, ToolCallAction)
        and step.action.name == "write_file"
        and isinstance(teacher, ToolCallAction)
        and teacher.name != "write_file"
    ):
        return "blind_write"
    return "other_action"


def labelled_pairs(
    steps: list[StepRecord],
    labels: list[TeacherLabel],
    rubric: RubricParams,
    protocol: ToolProtocol,
    limits: LoopLimits,
) -> list[tuple[tuple[PairExample | None, float], str]]:
    """The teacher's label against the student's action on every labelled student state where
    the parsed actions differ: (pair or None below the margin, margin) and the reason
    (`onpolicy_reason`), per state."""
    by_key = {(lb.run_id, lb.step): lb.output for lb in labels}
    out = []
    for step in steps:
        good = by_key.get((step.run_id, step.step))
        teacher = None if good is None else parse_action(good, protocol)
        if good is None or isinstance(teacher, ParseError):
            continue
        if step.raw_output.dump() == good.dump() or step.action == teacher:
            continue
        reason = onpolicy_reason(step, good, protocol)
        result = _pair(
            step.task_id,
            step.messages,
            good,
            step.raw_output,
            "onpolicy",
            reason,
            rubric,
            protocol,
            limits,
        )
        out.append((result, reason))
    return out


def onpolicy_pairs(
    steps: list[StepRecord],
    labels: list[TeacherLabel],
    rubric: RubricParams,
    protocol: ToolProtocol = "json",
    limits: LoopLimits = LOOP_LIMITS,
) -> tuple[list[PairExample], dict[str, Any]]:
    """Pairs of the teacher's label against a fine-tuned student's action on the student's own
    states (source `onpolicy`) and their metrics: counts by reason, kept and dropped."""
    results = labelled_pairs(steps, labels, rubric, protocol, limits)
    pairs = [r[0] for r, _ in results if r[0] is not None]
    dropped = Counter(reason for r, reason in results if r[0] is None)
    labelled = {(lb.run_id, lb.step) for lb in labels}
    metrics: dict[str, Any] = {
        "student_steps": len(steps),
        "labelled_states": sum(1 for s in steps if (s.run_id, s.step) in labelled),
        "differing_states": len(results),
        "pairs": len(pairs),
        "dropped_low_margin": sum(dropped.values()),
        "pairs_per_student_step": round(len(pairs) / max(1, len(steps)), 4),
        "by_reason": dict(sorted(Counter(p.reason for p in pairs).items())),
        "dropped_by_reason": dict(sorted(dropped.items())),
    }
    return pairs, metrics


def build_pairs(
    teacher_steps: list[StepRecord],
    rubric: RubricParams,
    params: PairParams,
    protocol: ToolProtocol = "json",
    limits: LoopLimits = LOOP_LIMITS,
) -> tuple[list[PairExample], dict[str, Any]]:
    """The teacher's action against corruptions of it: the kept pairs and the pairs metrics
    (counts by source and reason, margin statistics).

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
                    limits,
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
