"""Step `split`: train / held-out by task (grouped by source program), seeded, leak-checked.
`main()` is the stage; `split_files` is the step on files you name (`repo-agent split`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repo_agent.data.config import SplitParams
from repo_agent.data.split import split_rows
from repo_agent.files import read_jsonl, write_json, write_jsonl
from repo_agent.inputs import InputFileError, check_input_file
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage


def read_step_rows(path: Path, kind: str) -> list[dict[str, Any]]:
    """The rows of an extract (`kind` "sft") or pair ("pairs") output, each with its task id;
    InputFileError if the file is missing or holds something else."""
    check_input_file(path, kind)
    rows = read_jsonl(path)
    for n, row in enumerate(rows, 1):
        if not {"task_id", "row"} <= row.keys():
            raise InputFileError(f"{path}:{n}: a {kind} row needs 'task_id' and 'row'")
    return rows


def split_files(sft: Path, pairs: Path, out_dir: Path, config: SplitParams) -> dict[str, list[str]]:
    """Write `out_dir/{train,heldout}/{sft,pairs}.jsonl` (bare rows, ready for training) and
    `out_dir/tasks.json`; returns the task ids of each part.

    InputFileError if `sft` is not extract's output or `pairs` not pair's (the rows must carry
    their task ids), or both are empty."""
    sft_rows, pair_rows = read_step_rows(sft, "sft"), read_step_rows(pairs, "pairs")
    if not sft_rows and not pair_rows:
        raise InputFileError(f"nothing to split: {sft} and {pairs} hold no rows")
    out = split_rows(sft_rows, pair_rows, config.heldout_fraction, config.seed)
    for part in ("train", "heldout"):
        write_jsonl(out_dir / part / "sft.jsonl", out[part]["sft"])
        write_jsonl(out_dir / part / "pairs.jsonl", out[part]["pairs"])
    write_json(out_dir / "tasks.json", out["tasks"])
    return out["tasks"]


def main() -> None:
    with timed_stage("split"):
        params = stage_params()
        sft, pairs = paths.EXTRACT / "rows.jsonl", paths.PAIR / "pairs.jsonl"
        tasks = split_files(sft, pairs, paths.SPLIT, params.split)
        print(f"split: {len(tasks['train'])} train tasks, {len(tasks['heldout'])} held-out tasks")


if __name__ == "__main__":
    main()
