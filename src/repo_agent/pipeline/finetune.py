"""Step `finetune@sft` / `finetune@dpo`, one method per call: `sft` from the base model on the
SFT train rows, or `dpo` from the SFT model on the preference train rows; locally with TRL or as
a remote job."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any, Literal

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.io import stage_params, timed_stage
from repo_agent.pipeline.params import Params
from repo_agent.training.student import student_model_path

Method = Literal["sft", "dpo"]
METHODS: tuple[Method, ...] = ("sft", "dpo")
TRAIN_ROWS = {"sft": paths.SPLIT_TRAIN / "sft.jsonl", "dpo": paths.DPO_PAIRS}
MODEL_DIRS = {"sft": paths.MODELS_SFT, "dpo": paths.MODELS_DPO}
# What the curve plot of each method shows (TRL's log_history keys).
CURVE_KEYS = {"sft": ("loss", "mean_token_accuracy"), "dpo": ("loss", "rewards/accuracies")}


def _reset(*dirs: Path) -> None:
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True, exist_ok=True)


def run_finetune(params: Params, method: Method) -> dict[str, Any]:
    """Train (or launch) one method; writes its model dir and its DVCLive dir; returns a
    summary (rows, first and last loss) for the log."""
    if method not in METHODS:
        raise ValueError(f"unknown finetune method {method!r}; choose sft or dpo")
    ft = params.finetune
    rows, out, live = TRAIN_ROWS[method], MODEL_DIRS[method], paths.LIVE / method
    _reset(out, live)
    (paths.MODELS_REMOTE / method).mkdir(parents=True, exist_ok=True)  # a declared out
    if ft.backend != "local":
        return _run_remote(params, method, rows, out, live)

    from repo_agent.training.launch import TrainJob, train

    if method == "sft":
        start = Path(student_model_path(params.student.model, paths.MODELS_BASE))
    else:
        start = paths.MODELS_SFT
    job = TrainJob(
        method=method, start=str(start), rows=str(rows), out=str(out), live_dir=str(live), params=ft
    )
    # In this process, or under `accelerate launch` when finetune.num_processes > 1.
    result = train(job)
    _plot_curve(method, result["curve"], paths.REPORTS / f"{method}_curve.png")
    losses = [r["loss"] for r in result["curve"] if "loss" in r]
    return {"rows": result["rows"], "loss_first": losses[0], "loss_last": losses[-1]}


def _run_remote(
    params: Params, method: Method, rows: Path, out: Path, live: Path
) -> dict[str, Any]:
    """A remote job; its record goes to models/<method>/remote.json, which eval serves (by
    name, from the downloaded weights beside it, or through an endpoint: `serve` in the
    record). The curves come from the job's events."""
    from repo_agent.training.remote.curves import job_curve, write_live
    from repo_agent.training.remote.runner import run_remote_dpo, run_remote_sft

    ft = params.finetune
    state_dir = paths.MODELS_REMOTE / method
    if method == "sft":
        base = ft.base_model or params.student.model
        record = run_remote_sft(ft.backend, rows, base, ft.remote, state_dir)
    else:
        sft_record = paths.MODELS_SFT / paths.REMOTE_MODEL_FILE
        if not sft_record.is_file():
            raise FileNotFoundError(
                f"{sft_record}: no remote SFT record; run finetune@sft with the same backend"
            )
        sft = json.loads(sft_record.read_text(encoding="utf-8"))
        record = run_remote_dpo(ft.backend, rows, sft, ft.dpo.beta, ft.remote, state_dir)
    record = {**record, "serve": ft.remote.serve}
    if ft.remote.serve == "download":
        from repo_agent.training.remote.download import download_model

        record["download"] = download_model(record, ft.remote, state_dir, out)
    write_json(out / paths.REMOTE_MODEL_FILE, record)
    curve = job_curve(record["provider"], record.get("events") or [])
    write_live(live, curve, {"rows": record.get("rows", 0)})
    _plot_curve(method, curve, paths.REPORTS / f"{method}_curve.png")
    summary: dict[str, Any] = {"rows": record.get("rows", 0), "model": record["model"]}
    losses = [p["loss"] for p in curve if "loss" in p]
    if losses:
        summary |= {"loss_first": losses[0], "loss_last": losses[-1]}
    return summary


def _plot_curve(method: Method, curve: list[dict[str, float]], out: Path) -> None:
    """Static PNG of the training curve (dvc plots needs a CDN for its HTML; this does not)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    keys = CURVE_KEYS[method]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.2))
    for ax, key in zip(axes, keys, strict=True):
        pts = [(r["step"], r[key]) for r in curve if key in r]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker=".")
        else:
            ax.text(0.5, 0.5, "no points reported", ha="center", transform=ax.transAxes)
        ax.set_title(f"{method.upper()} {key}")
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main() -> None:
    """Usage: python -m repo_agent.pipeline.finetune sft|dpo"""
    method = sys.argv[1] if len(sys.argv) > 1 else ""
    with timed_stage(f"finetune@{method}"):
        summary = run_finetune(stage_params(), method)  # type: ignore[arg-type]
        print(f"finetune@{method}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
