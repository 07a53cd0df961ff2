"""Stage `eval`: base, SFT, DPO and teacher on the held-out tasks; metrics, report, plots."""

from repo_agent import paths
from repo_agent.eval_stage import run_eval
from repo_agent.stage_io import stage_params, write_json

if __name__ == "__main__":
    params = stage_params()
    metrics = run_eval(params)
    write_json(paths.METRICS / "eval.json", metrics)
