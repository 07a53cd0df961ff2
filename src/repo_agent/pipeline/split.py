"""The split step on files: SFT rows and pairs (with provenance) in, train / held-out files out."""

from __future__ import annotations

from pathlib import Path

from repo_agent.data.config import SplitParams
from repo_agent.data.split import split_rows
from repo_agent.files import read_jsonl, write_json, write_jsonl


def split_files(sft: Path, pairs: Path, out_dir: Path, config: SplitParams) -> dict[str, list[str]]:
    """Write `out_dir/{train,heldout}/{sft,pairs}.jsonl` (bare rows, ready for training) and
    `out_dir/tasks.json`; returns the task ids of each part."""
    out = split_rows(read_jsonl(sft), read_jsonl(pairs), config.heldout_fraction, config.seed)
    for part in ("train", "heldout"):
        write_jsonl(out_dir / part / "sft.jsonl", out[part]["sft"])
        write_jsonl(out_dir / part / "pairs.jsonl", out[part]["pairs"])
    write_json(out_dir / "tasks.json", out["tasks"])
    return out["tasks"]
