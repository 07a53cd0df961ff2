"""Stage `split`: train / held-out by task (grouped by source program), seeded, leak-checked."""

from repo_agent import paths
from repo_agent.split import split_rows
from repo_agent.stage_io import read_jsonl, stage_params, write_json, write_jsonl

if __name__ == "__main__":
    p = stage_params().split
    sft = read_jsonl(paths.SFT / "rows.jsonl")
    pairs = read_jsonl(paths.PAIRS / "pairs.jsonl")
    out = split_rows(sft, pairs, p.heldout_fraction, p.seed)
    for part in ("train", "heldout"):
        write_jsonl(paths.SPLIT / part / "sft.jsonl", out[part]["sft"])
        write_jsonl(paths.SPLIT / part / "pairs.jsonl", out[part]["pairs"])
    write_json(paths.SPLIT_TASKS, out["tasks"])
    t = out["tasks"]
    print(f"split: {len(t['train'])} train tasks, {len(t['heldout'])} held-out tasks")
