"""Stage `split`: train / held-out by task (grouped by source program), seeded, leak-checked."""

from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params
from repo_agent.pipeline.split import split_files

if __name__ == "__main__":
    params = stage_params()
    tasks = split_files(
        paths.SFT / "rows.jsonl", paths.PAIRS / "pairs.jsonl", paths.SPLIT, params.split
    )
    print(f"split: {len(tasks['train'])} train tasks, {len(tasks['heldout'])} held-out tasks")
