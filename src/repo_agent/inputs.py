"""The checks a data step runs on the files it is given: missing, of another kind (told by the
first line), given twice, clashing run ids or tool protocols, an output that is an input."""

from __future__ import annotations

import json
from pathlib import Path

from repo_agent.records import (
    LABEL_FORMAT,
    PAIR_FORMAT,
    RESULT_FORMAT,
    SFT_FORMAT,
    TRACE_FORMAT,
    ToolCallAction,
)
from repo_agent.traces import Trace, read_trace


class InputFileError(ValueError):
    """A data step's input file is missing, holds another kind of rows, or clashes with another."""


# What a JSONL file of this project holds, as told to a user who gave the wrong one.
KINDS = {
    "traces": "traces (X.traces.jsonl from `repo-agent run --out X.jsonl`)",
    "results": "run results (X.jsonl from `repo-agent run --out X.jsonl`)",
    "sft": "SFT rows (the output of the extract step)",
    "pairs": "preference pairs (the output of the pair step)",
    "labels": "teacher labels of student states (the onpolicy step's labels.jsonl)",
    "sft_row": "bare SFT rows without task ids (the output of split)",
    "preference_row": "bare preference rows without task ids (the output of split)",
    "unknown": "lines of no kind this project writes",
}
_TAGS = {
    TRACE_FORMAT.split("/")[0]: "traces",
    RESULT_FORMAT.split("/")[0]: "traces",
    SFT_FORMAT.split("/")[0]: "sft",
    PAIR_FORMAT.split("/")[0]: "pairs",
    LABEL_FORMAT.split("/")[0]: "labels",
}


def file_kind(path: Path) -> str:
    """What a JSONL file holds, told by its first line: a key of KINDS, or "empty".

    Tagged lines say it by the name part of their format tag (`repo-agent.sft/1` → "sft");
    untagged ones by their keys (a RunResult → "results", `{"messages": …}` with or without
    `tools` → "sft_row")."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        first = next((line for line in fh if line.strip()), "")
    if not first:
        return "empty"
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        return "unknown"
    if not isinstance(obj, dict):
        return "unknown"
    if "format" in obj:
        return _TAGS.get(str(obj["format"]).split("/", 1)[0], "unknown")
    if {"run_id", "task_id", "success"} <= obj.keys():
        return "results"
    if "messages" in obj and obj.keys() <= {"messages", "tools"}:
        return "sft_row"
    if "preferred_output" in obj:
        return "preference_row"
    return "unknown"


def check_input_file(path: Path, kind: str) -> None:
    """Raise InputFileError unless `path` is a file that holds `kind` (a key of KINDS) or
    nothing. A results file is answered with the traces file to give instead."""
    if not path.is_file():
        raise InputFileError(f"no such file: {path}")
    found = file_kind(path)
    # A traces file of an unknown format version: read_trace names the line and the version.
    if found in (kind, "empty") or (kind == "traces" and found == "unknown"):
        return
    msg = f"{path} holds {KINDS[found]}; expected {KINDS[kind]}"
    if found == "results" and kind == "traces":
        msg = (
            f"{path} is a results file (one run result per line), not traces; give "
            f"{path.with_suffix('.traces.jsonl')}, which `repo-agent run --out {path}` "
            "writes beside it"
        )
    elif found == "traces" and kind in ("sft", "pairs"):
        msg += "; run `repo-agent sft-extract` or `repo-agent pairs` on it first"
    raise InputFileError(msg)


def trace_protocols(trace: Trace) -> set[str]:
    """The tool protocols a trace's runs used, told by the raw outputs: a native tool call, or
    (json) a tool call parsed from the content. Finals and parse errors tell nothing."""
    found: set[str] = set()
    for s in trace.steps:
        if s.raw_output.tool_calls:
            found.add("native")
        elif isinstance(s.action, ToolCallAction):
            found.add("json")
    return found


def check_not_twice(paths: list[Path]) -> None:
    """Raise InputFileError if one file is given twice (its runs would count twice)."""
    seen: dict[Path, Path] = {}
    for p in paths:
        first = seen.get(p.resolve())
        if first is not None:
            also = "" if first == p else f" (also as {first})"
            raise InputFileError(f"{p} is given twice{also}")
        seen[p.resolve()] = p


def check_output(out: Path, inputs: list[Path]) -> None:
    """Raise InputFileError if writing `out` would replace one of the step's `inputs`."""
    if out.resolve() in {p.resolve() for p in inputs}:
        raise InputFileError(f"{out} is both an input and the output; give another output file")


def read_trace_inputs(paths: list[Path], protocol: str | None = None) -> list[Trace]:
    """Read the trace files one step is given, one Trace per path. Raises InputFileError for a
    missing file or one of another kind, a file given twice, a run id in two files, or runs
    of two tool protocols (or of another one than `protocol`)."""
    for p in paths:
        check_input_file(p, "traces")
    check_not_twice(paths)
    traces = [read_trace(p) for p in paths]
    owner: dict[str, Path] = {}
    used: dict[str, Path] = {}
    for p, t in zip(paths, traces, strict=True):
        for r in t.results:
            first = owner.setdefault(r.result.run_id, p)
            if first != p:
                raise InputFileError(
                    f"run {r.result.run_id} is in both {first} and {p}; give each run once"
                )
        for proto in sorted(trace_protocols(t)):
            used.setdefault(proto, p)
    if len(used) > 1:
        raise InputFileError(
            f"traces of two tool protocols: json in {used['json']}, native in {used['native']}; "
            "give traces of one protocol"
        )
    if protocol is not None and used and protocol not in used:
        (other, where), *_ = used.items()
        raise InputFileError(
            f"{where} holds {other}-protocol traces but the tool protocol is {protocol}; "
            f"set it to {other} (`--tool-protocol {other}`, params `agent.tool_protocol`)"
        )
    return traces
