"""Stage `heldout`: the eval set, the split's held-out tasks plus mutants of their programs."""

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.heldout import run_heldout
from repo_agent.pipeline.io import stage_params, timed_stage

if __name__ == "__main__":
    with timed_stage("heldout"):
        params = stage_params()
        counts = run_heldout(
            params, paths.SPLIT_TASKS, paths.MUTANTS, paths.HELDOUT_TASKS, paths.HELDOUT_MUTANTS
        )
        write_json(paths.METRICS / "heldout.json", counts)
        print(
            f"heldout: {counts['tasks']} tasks ({counts['programs']} programs, "
            f"{counts['mutants']} mutants)"
        )
