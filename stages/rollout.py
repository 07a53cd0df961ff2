"""Stage `rollout`: teacher and student act on the suite; the teacher labels student states."""

import sys

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.rollout import check_sandbox, run_rollout, write_teacher_policy
from repo_agent.runtime.sandbox import SandboxError

if __name__ == "__main__":
    with timed_stage("rollout", user_errors=(SandboxError,)):
        params = stage_params()
        # The first stage checks every policy of the pipeline: a refusal now, not hours in.
        print(f"rollout: {check_sandbox(params)}", file=sys.stderr, flush=True)
        for cfg in (params.teacher, params.student):
            cfg.cache_dir = str(paths.CACHE_ROLLOUT)
        paths.CACHE_ROLLOUT.mkdir(parents=True, exist_ok=True)
        paths.MUTANTS.mkdir(parents=True, exist_ok=True)
        paths.RENAMED.mkdir(parents=True, exist_ok=True)
        summary = run_rollout(params, paths.TRACES, paths.MODELS_BASE, paths.MUTANTS)
        write_teacher_policy(params, paths.MODELS_TEACHER)
        write_json(paths.METRICS / "rollout.json", summary)
