"""Stage `finetune`: SFT then DPO, locally with TRL or as remote jobs (Together / OpenAI)."""

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.finetune import run_finetune
from repo_agent.pipeline.io import stage_params

if __name__ == "__main__":
    metrics = run_finetune(stage_params())
    write_json(paths.METRICS / "train.json", metrics)
