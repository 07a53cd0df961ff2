"""Stage `report`: the per-model evals into metrics/eval.json, reports/eval.{md,html}, plots."""

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.report import run_report

if __name__ == "__main__":
    with timed_stage("report"):
        metrics = run_report(stage_params())
        write_json(paths.METRICS / "eval.json", metrics)
