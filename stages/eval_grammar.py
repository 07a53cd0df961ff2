"""Stage `eval_grammar@<model>`: one model of eval.grammar under constrained decoding
(`constrain: json_schema`) on the held-out tasks, as the arm `<model>+grammar`.
Usage: python stages/eval_grammar.py MODEL"""

import sys

from repo_agent.pipeline.eval import run_eval
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.params import GRAMMAR
from repo_agent.runtime.sandbox import SandboxError

if __name__ == "__main__":
    model = sys.argv[1] if len(sys.argv) > 1 else ""
    with timed_stage(f"eval_grammar@{model}", user_errors=(SandboxError,)):
        runs = run_eval(stage_params(), model + GRAMMAR)
        print(f"eval_grammar@{model}: {runs} runs")
