"""Stage `split`: train / held-out by task (grouped by source program), seeded, leak-checked."""

from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.split import split_files

if __name__ == "__main__":
    with timed_stage("split"):
        params = stage_params()
        sft, pairs = paths.SFT / "rows.jsonl", paths.PAIRS / "pairs.jsonl"
        tasks = split_files(sft, pairs, paths.SPLIT, params.split)
        print(f"split: {len(tasks['train'])} train tasks, {len(tasks['heldout'])} held-out tasks")
