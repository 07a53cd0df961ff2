"""Stage `finetune@sft` / `finetune@dpo`: one training method, locally with TRL (curves logged
with DVCLive) or as a remote job (Together / OpenAI). Usage: python stages/finetune.py sft|dpo"""

import sys

from repo_agent.pipeline.finetune import run_finetune
from repo_agent.pipeline.io import stage_params, timed_stage

if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else ""
    with timed_stage(f"finetune@{method}"):
        summary = run_finetune(stage_params(), method)  # type: ignore[arg-type]
        print(f"finetune@{method}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
