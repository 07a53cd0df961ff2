"""Stage `finetune`: SFT then DPO, locally with TRL or as remote jobs (Together / OpenAI)."""

from repo_agent import paths
from repo_agent.finetune import run_finetune
from repo_agent.stage_io import stage_params, write_json

if __name__ == "__main__":
    metrics = run_finetune(stage_params())
    write_json(paths.METRICS / "train.json", metrics)
