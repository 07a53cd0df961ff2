"""Stage `eval@<model>`: one model (base, sft, dpo or teacher) on the held-out tasks.
Usage: python stages/eval.py MODEL"""

import sys

from repo_agent.pipeline.eval import run_eval
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.runtime.sandbox import SandboxError

if __name__ == "__main__":
    model = sys.argv[1] if len(sys.argv) > 1 else ""
    with timed_stage(f"eval@{model}", user_errors=(SandboxError,)):
        runs = run_eval(stage_params(), model)  # type: ignore[arg-type]
        print(f"eval@{model}: {runs} runs")
