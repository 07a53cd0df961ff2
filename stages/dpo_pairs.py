"""Stage `dpo_pairs`: DPO's training rows, the train tasks' pairs plus the on-policy pairs."""

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.dpo_pairs import dpo_train_pairs
from repo_agent.pipeline.io import stage_params, timed_stage

if __name__ == "__main__":
    with timed_stage("dpo_pairs"):
        params = stage_params()
        metrics = dpo_train_pairs(
            paths.PAIRS / "pairs.jsonl",
            paths.SPLIT_TASKS,
            paths.ONPOLICY,
            paths.DPO_TRAIN,
            params.rubric,
            params.agent,
        )
        write_json(paths.METRICS / "dpo_pairs.json", metrics)
        print(
            f"dpo_pairs: {metrics['pairs']} pairs, {metrics['onpolicy']['pairs']} on-policy "
            f"{metrics['onpolicy']['by_reason']}"
        )
