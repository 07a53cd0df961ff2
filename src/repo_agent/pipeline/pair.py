"""Step `pair`: step-level preference pairs, the teacher's action against corruptions of it,
labelled by the rubric. `main()` is the stage; `pair_files` is the step on files you name
(`repo-agent pair`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repo_agent.data.config import PairParams, RubricParams
from repo_agent.data.pairs import build_pairs
from repo_agent.files import write_json, write_jsonl
from repo_agent.inputs import check_not_twice, check_output, read_trace_inputs
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.runtime.config import AgentConfig
from repo_agent.traces import join_traces


def pair_files(
    teacher: list[Path], out: Path, rubric: RubricParams, config: PairParams, agent: AgentConfig
) -> dict[str, Any]:
    """Write the kept preference pairs to `out`; returns the pairs metrics.

    The files are checked first (inputs.read_trace_inputs; each traces file once, all of them
    of `agent.tool_protocol`): InputFileError if they do not fit."""
    check_output(out, teacher)
    check_not_twice(teacher)
    trace = join_traces(read_trace_inputs(teacher, agent.tool_protocol))
    pairs, metrics = build_pairs(
        trace.steps, rubric, config, agent.tool_protocol, agent.loop_limits
    )
    write_jsonl(out, pairs)
    return metrics


def main() -> None:
    with timed_stage("pair"):
        params = stage_params()
        metrics = pair_files(
            [paths.ROLLOUT / "teacher.jsonl"],
            paths.PAIR / "pairs.jsonl",
            params.rubric,
            params.pair,
            params.agent,
        )
        write_json(paths.METRICS / "pair.json", metrics)
        print(f"pair: {metrics['pairs']} pairs kept of {metrics['candidates']} candidates")


if __name__ == "__main__":
    main()
