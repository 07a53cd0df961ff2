"""Stage `eval`: base, SFT, DPO and teacher on the held-out tasks; metrics, report, plots."""

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.eval import run_eval
from repo_agent.pipeline.io import stage_params

if __name__ == "__main__":
    params = stage_params()
    metrics = run_eval(params)
    write_json(paths.METRICS / "eval.json", metrics)
