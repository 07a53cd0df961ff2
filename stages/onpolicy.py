"""Stage `onpolicy`: the SFT student acts on the train tasks; the teacher labels its states."""

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.onpolicy import run_onpolicy_rollouts, train_tasks
from repo_agent.runtime.sandbox import SandboxError

if __name__ == "__main__":
    with timed_stage("onpolicy", user_errors=(SandboxError,)):
        params = stage_params()
        tasks = train_tasks(params, paths.SPLIT_TASKS, paths.MUTANTS)
        summary = run_onpolicy_rollouts(
            params, paths.MODELS_SFT, tasks, paths.ONPOLICY, paths.CACHE_ONPOLICY
        )
        write_json(paths.METRICS / "onpolicy.json", summary)
        print(f"onpolicy: {summary['runs']} runs, {summary['labels']} states labelled")
