"""The pair step on files: teacher traces (plus, optionally, student traces and the teacher's
labels of the student's states) in, preference rows (with provenance) out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repo_agent.data.config import PairParams, RubricParams
from repo_agent.data.pairs import build_pairs
from repo_agent.files import read_jsonl, write_jsonl
from repo_agent.records import TeacherLabel
from repo_agent.runtime.config import AgentConfig
from repo_agent.traces import read_traces


def read_labels(path: Path | None) -> list[TeacherLabel]:
    """The teacher's labels of student states (rollout's labels.jsonl); none without a path."""
    if path is None or not path.exists():
        return []
    return [TeacherLabel.model_validate(row) for row in read_jsonl(path)]


def pair_files(
    teacher: list[Path],
    out: Path,
    rubric: RubricParams,
    config: PairParams,
    agent: AgentConfig,
    student: list[Path] | None = None,
    labels: Path | None = None,
) -> dict[str, Any]:
    """Write the kept preference pairs to `out`; returns the pairs metrics."""
    teacher_trace = read_traces(teacher)
    student_trace = read_traces(student or [])
    pairs, metrics = build_pairs(
        teacher_trace.steps,
        student_trace.steps,
        read_labels(labels),
        rubric,
        config,
        agent.tool_protocol,
        agent.small_read_chars,
    )
    write_jsonl(out, pairs)
    return metrics
