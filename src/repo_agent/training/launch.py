"""One local training job (SFT or DPO), run in this process or, with `finetune.num_processes` >
1, under `accelerate launch` (one process per GPU, data parallel).

The finetune stage stays in its own process: it writes the job to a JSON file, launches
`python -m accelerate.commands.launch ... -m repo_agent.training.launch JOB`, and reads the
result the main process wrote. Only training runs in the launched processes; the stage's
curves and summary are made by the stage, as for an in-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from repo_agent.training.config import FinetuneParams
from repo_agent.training.hardware import TrainingPlan, machine_facts, plan_training
from repo_agent.yamlfile import ConfigModel


class TrainJob(ConfigModel):
    """What a launched process trains: the method, its start model, rows and outputs."""

    method: Literal["sft", "dpo"]
    start: str
    rows: str
    out: str
    live_dir: str | None = None
    params: FinetuneParams
    result: str | None = None  # where the main process writes the result (launched runs)


def launch_command(
    job_file: Path, num_processes: int, plan: TrainingPlan, python: str = sys.executable
) -> list[str] | None:
    """The `accelerate launch` command for the job, or None for one process (train in this one).

    >>> plan = TrainingPlan("cuda", "bf16", True, False)
    >>> launch_command(Path("job.json"), 1, plan) is None
    True
    >>> " ".join(launch_command(Path("job.json"), 2, plan, python="python"))
    'python -m accelerate.commands.launch --num_processes 2 --num_machines 1 --mixed_precision bf16 --dynamo_backend no --multi_gpu -m repo_agent.training.launch job.json'
    """  # noqa: E501
    if num_processes == 1:
        return None
    mixed = "no" if plan.precision == "fp32" else plan.precision
    cmd = [python, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes)]
    cmd += ["--num_machines", "1", "--mixed_precision", mixed, "--dynamo_backend", "no"]
    cmd.append("--cpu" if plan.device == "cpu" else "--multi_gpu")
    return [*cmd, "-m", "repo_agent.training.launch", str(job_file)]


def run_job(job: TrainJob) -> dict[str, Any]:
    """Train the job in this process (one of several when launched: DVCLive on the main only)."""
    from repo_agent.training.local import train_dpo, train_sft

    train = train_sft if job.method == "sft" else train_dpo
    main = os.environ.get("RANK", "0") == "0"
    live = Path(job.live_dir) if job.live_dir is not None and main else None
    return train(Path(job.start), Path(job.rows), Path(job.out), job.params, live_dir=live)


def train(job: TrainJob) -> dict[str, Any]:
    """Run the job here, or under `accelerate launch` with `params.num_processes` processes."""
    plan = plan_training(job.params, machine_facts())  # a bad setting fails before any launch
    with tempfile.TemporaryDirectory(prefix="repo-agent-launch-") as tmp:
        job_file = Path(tmp) / "job.json"
        cmd = launch_command(job_file, job.params.num_processes, plan)
        if cmd is None:
            return run_job(job)
        result = Path(tmp) / "result.json"
        job_file.write_text(job.model_copy(update={"result": str(result)}).model_dump_json())
        done = subprocess.run(cmd, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"accelerate launch exited with {done.returncode} ({' '.join(cmd)}); its output "
                "above says why"
            )
        return json.loads(result.read_text(encoding="utf-8"))


def main(argv: list[str]) -> None:
    """Entry point of a launched process: train, and the main process writes the result."""
    job = TrainJob.model_validate_json(Path(argv[0]).read_text(encoding="utf-8"))
    result = run_job(job)
    if os.environ.get("RANK", "0") == "0" and job.result is not None:
        Path(job.result).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
