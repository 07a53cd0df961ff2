"""Step `extract`: each kept teacher step becomes one SFT row (with provenance). `main()` is
the stage; `extract_files` is the step on files you name (`repo-agent extract`)."""

from __future__ import annotations

from pathlib import Path

from repo_agent.data.config import ExtractParams
from repo_agent.data.extract import extract_sft
from repo_agent.files import write_json, write_jsonl
from repo_agent.inputs import check_output, read_trace_inputs
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.runtime.config import ToolProtocol
from repo_agent.traces import join_traces


def extract_files(
    traces: list[Path], out: Path, config: ExtractParams, protocol: ToolProtocol = "json"
) -> dict[str, int]:
    """Write one SFT row per kept step of the runs in `traces` to `out`; returns the counts.
    Rows of the native `protocol` carry the tools.

    The files are checked first (inputs.read_trace_inputs; all of them of `protocol`):
    InputFileError if they do not fit."""
    check_output(out, traces)
    trace = join_traces(read_trace_inputs(traces, protocol))
    rows, counts = extract_sft(
        trace.steps,
        trace.results,
        config.require_success,
        config.dedupe,
        config.max_chars,
        protocol,
    )
    write_jsonl(out, rows)
    return counts


def main() -> None:
    with timed_stage("extract"):
        params = stage_params()
        teacher, rows = paths.ROLLOUT / "teacher.jsonl", paths.EXTRACT / "rows.jsonl"
        counts = extract_files([teacher], rows, params.extract, params.agent.tool_protocol)
        write_json(paths.METRICS / "extract.json", counts)
        print(f"extract: {counts['rows']} SFT rows from {counts['steps']} teacher steps")


if __name__ == "__main__":
    main()
