"""The finetune step: SFT warm-start then DPO, on the chosen backend; writes curves + metrics."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

from repo_agent.pipeline import paths
from repo_agent.pipeline.params import Params
from repo_agent.training.student import student_model_path


def _write_curve(path: Path, curve: list[dict[str, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    curve = [{k.replace("/", "_"): v for k, v in row.items()} for row in curve]
    keys = sorted({k for row in curve for k in row} - {"step"})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["step", *keys])
        writer.writeheader()
        for row in curve:
            writer.writerow(row)


def _first_last(curve: list[dict[str, float]], key: str) -> dict[str, float]:
    values = [row[key] for row in curve if key in row]
    if not values:
        return {}
    name = key.replace("rewards/", "reward_")
    return {f"{name}_first": round(values[0], 4), f"{name}_last": round(values[-1], 4)}


def _reset(*dirs: Path) -> None:
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True, exist_ok=True)


def run_finetune(params: Params) -> dict[str, Any]:
    """Train (or launch) SFT then DPO from the split's train rows; returns metrics/train.json."""
    ft = params.finetune
    sft_rows = paths.SPLIT_TRAIN / "sft.jsonl"
    pair_rows = paths.SPLIT_TRAIN / "pairs.jsonl"
    paths.MODELS_REMOTE.mkdir(parents=True, exist_ok=True)
    if ft.backend != "local":
        from repo_agent.training.remote.runner import run_remote_finetune

        base = ft.base_model or params.student.model
        info = run_remote_finetune(
            ft.backend, sft_rows, pair_rows, base, ft.dpo.beta, ft.remote, paths.MODELS_REMOTE
        )
        _reset(paths.MODELS_SFT, paths.MODELS_DPO)
        for name, target in (("sft.json", paths.MODELS_SFT), ("dpo.json", paths.MODELS_DPO)):
            shutil.copyfile(paths.MODELS_REMOTE / name, target / paths.REMOTE_MODEL_FILE)
        return {"remote": {k: v for k, v in info.items() if isinstance(v, int | float)}}

    from repo_agent.training.local import train_dpo, train_sft

    base = Path(student_model_path(params.student.model, paths.MODELS_BASE))
    _reset(paths.MODELS_SFT, paths.MODELS_DPO)
    sft = train_sft(base, sft_rows, paths.MODELS_SFT, ft)
    dpo = train_dpo(paths.MODELS_SFT, pair_rows, paths.MODELS_DPO, ft)
    _write_curve(paths.PLOTS / "sft_curve.csv", sft["curve"])
    _write_curve(paths.PLOTS / "dpo_curve.csv", dpo["curve"])
    _plot_curves(sft["curve"], dpo["curve"], paths.REPORTS / "train_curves.png")
    metrics = {
        "sft": {
            "rows": sft["rows"],
            **_first_last(sft["curve"], "loss"),
            **_first_last(sft["curve"], "mean_token_accuracy"),
        },
        "dpo": {
            "rows": dpo["rows"],
            **_first_last(dpo["curve"], "loss"),
            **_first_last(dpo["curve"], "rewards/accuracies"),
            **_first_last(dpo["curve"], "rewards/margins"),
        },
    }
    return metrics


def _plot_curves(sft: list[dict[str, float]], dpo: list[dict[str, float]], out: Path) -> None:
    """Static PNG of the training curves (dvc plots needs a CDN for its HTML; this does not)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    for ax, curve, key, title in (
        (axes[0], sft, "loss", "SFT loss"),
        (axes[1], dpo, "loss", "DPO loss"),
        (axes[2], dpo, "rewards/accuracies", "DPO reward accuracy"),
    ):
        pts = [(r["step"], r[key]) for r in curve if key in r]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker=".")
        ax.set_title(title)
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
