"""The pair step on files: teacher traces (plus, optionally, student traces and the teacher's
labels of the student's states) in, preference rows (with provenance) out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repo_agent.data.config import PairParams, RubricParams
from repo_agent.data.pairs import build_pairs
from repo_agent.files import read_jsonl, write_jsonl
from repo_agent.inputs import check_input_file, check_not_twice, check_output, read_trace_inputs
from repo_agent.records import TeacherLabel
from repo_agent.runtime.config import AgentConfig
from repo_agent.traces import join_traces


def read_labels(path: Path | None) -> list[TeacherLabel]:
    """The teacher's labels of student states (rollout's labels.jsonl); none without a path.

    InputFileError if the file is missing or holds something else."""
    if path is None:
        return []
    check_input_file(path, "labels")
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
    """Write the kept preference pairs to `out`; returns the pairs metrics.

    The files are checked first (inputs.read_trace_inputs; each traces file once, all of them
    of `agent.tool_protocol`): InputFileError if they do not fit. Teacher and student runs may
    share run ids (the labels name student runs only)."""
    student = student or []
    inputs = [*teacher, *student, *([labels] if labels else [])]
    check_output(out, inputs)
    check_not_twice(inputs)
    teacher_trace = join_traces(read_trace_inputs(teacher, agent.tool_protocol))
    student_trace = join_traces(read_trace_inputs(student, agent.tool_protocol))
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
