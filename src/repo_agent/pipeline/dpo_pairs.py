"""Step `dpo_pairs`: DPO's training rows are the pair step's rows of the train tasks plus
the on-policy pairs, the teacher's label against the fine-tuned student's own action on each
state it reached (scored by the rubric, kept at `rubric.min_margin`)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from repo_agent.data.config import RubricParams
from repo_agent.data.pairs import PairExample, onpolicy_pairs
from repo_agent.files import read_jsonl, write_json, write_jsonl
from repo_agent.inputs import check_input_file
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.paths import ONPOLICY_LABELS, ONPOLICY_TRACE
from repo_agent.records import StepRecord, TeacherLabel
from repo_agent.runtime.config import AgentConfig
from repo_agent.traces import read_trace


def read_onpolicy(run_dir: Path) -> tuple[list[StepRecord], list[TeacherLabel]]:
    """The student steps and teacher labels of an on-policy run dir."""
    trace, labels = run_dir / ONPOLICY_TRACE, run_dir / ONPOLICY_LABELS
    check_input_file(trace, "traces")
    steps = read_trace(trace).steps
    rows = read_jsonl(labels) if labels.is_file() and labels.stat().st_size else []
    return steps, [TeacherLabel.model_validate(r) for r in rows]


def dpo_train_pairs(
    pairs: Path,
    split_tasks: Path,
    onpolicy_dir: Path,
    out: Path,
    rubric: RubricParams,
    agent: AgentConfig,
) -> dict[str, Any]:
    """Write DPO's training rows: the pair step's rows of the train tasks (as the split writes
    them) plus the on-policy pairs of `onpolicy_dir`; returns the metrics: all pairs by source,
    and the on-policy pairs by reason (`data.pairs.onpolicy_reason`).

    ValueError if an on-policy run is on a task that is not a train task."""
    train = set(json.loads(split_tasks.read_text(encoding="utf-8"))["train"])
    check_input_file(pairs, "pairs")
    base = [PairExample.model_validate(r) for r in read_jsonl(pairs)]
    base = [e for e in base if e.task_id in train]
    steps, labels = read_onpolicy(onpolicy_dir)
    stray = sorted({s.task_id for s in steps} - train)
    if stray:
        raise ValueError(f"{onpolicy_dir}: on-policy runs on non-train task(s): {', '.join(stray)}")
    made, onpolicy = onpolicy_pairs(steps, labels, rubric, agent.tool_protocol, agent.loop_limits)
    write_jsonl(out, [e.row for e in [*base, *made]])
    by_source = Counter(e.source for e in [*base, *made])
    return {
        "pairs": len(base) + len(made),
        "by_source": dict(sorted(by_source.items())),
        "onpolicy": onpolicy,
    }


def main() -> None:
    with timed_stage("dpo_pairs"):
        params = stage_params()
        metrics = dpo_train_pairs(
            paths.PAIR / "pairs.jsonl",
            paths.SPLIT_TASKS,
            paths.ONPOLICY,
            paths.DPO_PAIRS,
            params.rubric,
            params.agent,
        )
        write_json(paths.METRICS / "dpo_pairs.json", metrics)
        print(
            f"dpo_pairs: {metrics['pairs']} pairs, {metrics['onpolicy']['pairs']} on-policy "
            f"{metrics['onpolicy']['by_reason']}"
        )


if __name__ == "__main__":
    main()
