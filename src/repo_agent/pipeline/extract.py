"""The extract step on files: trace files in, step-level SFT rows (with provenance) out."""

from __future__ import annotations

from pathlib import Path

from repo_agent.data.config import ExtractParams
from repo_agent.data.extract import extract_sft
from repo_agent.files import write_jsonl
from repo_agent.inputs import check_output, read_trace_inputs
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
