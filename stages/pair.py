"""Stage `pair`: step-level preference pairs labelled by the rubric."""

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.pair import pair_files

if __name__ == "__main__":
    with timed_stage("pair"):
        params = stage_params()
        metrics = pair_files(
            [paths.TRACES / "teacher.jsonl"],
            paths.PAIRS / "pairs.jsonl",
            params.rubric,
            params.pair,
            params.agent,
            student=[paths.TRACES / "student.jsonl"],
            labels=paths.TRACES / "labels.jsonl",
        )
        write_json(paths.METRICS / "pairs.json", metrics)
        print(f"pair: {metrics['pairs']} pairs kept of {metrics['candidates']} candidates")
