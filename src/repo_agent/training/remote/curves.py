"""Training curves of remote jobs, from the job events the provider reports, written in the
DVCLive layout the local trainer writes (`live_dir/metrics.json`, `live_dir/plots/metrics/*.tsv`)
so the finetune stage's declared outs exist for every backend."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from repo_agent.files import write_json

# Together reports progress in the event text, e.g. "Step 12/40: loss 1.2345, lr 1e-05".
_STEP = re.compile(r"\bstep\s*[:=]?\s*(\d+)", re.IGNORECASE)
_LOSS = re.compile(r"(?<![\w/])(?:train_)?loss\s*[:=]?\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)", re.I)
# OpenAI's `metrics` events carry `data`; these keys become the local trainer's names.
_OPENAI_KEYS = {"train_loss": "loss", "train_mean_token_accuracy": "mean_token_accuracy"}


def together_points(events: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Curve points from Together fine-tune events: the step (field or text) and the training
    loss in the message text; events without a loss are skipped.

    >>> together_points([{"message": "Training started"},
    ...                  {"message": "Step 3/10: loss 1.25", "step": 3}])
    [{'step': 3, 'loss': 1.25}]
    """
    points = []
    for event in events:
        text = str(event.get("message") or "")
        loss = _LOSS.search(text)
        step = event.get("step")
        if step is None and (hit := _STEP.search(text)):
            step = int(hit.group(1))
        if loss and isinstance(step, int):
            points.append({"step": step, "loss": float(loss.group(1))})
    return _by_step(points)


def openai_points(events: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Curve points from OpenAI fine-tuning job events of type `metrics` (`data.step`,
    `data.train_loss`, `data.train_mean_token_accuracy`).

    >>> openai_points([{"type": "metrics", "data": {"step": 2, "train_loss": 0.5}}])
    [{'step': 2, 'loss': 0.5}]
    """
    points = []
    for event in events:
        data = event.get("data") or {}
        if event.get("type") != "metrics" or not isinstance(data.get("step"), int):
            continue
        point: dict[str, float] = {"step": data["step"]}
        for key, name in _OPENAI_KEYS.items():
            if isinstance(data.get(key), int | float):
                point[name] = float(data[key])
        if len(point) > 1:
            points.append(point)
    return _by_step(points)


def _by_step(points: list[dict[str, float]]) -> list[dict[str, float]]:
    """One point per step (the last reported), in step order (APIs list events newest first)."""
    return sorted({p["step"]: p for p in points}.values(), key=lambda p: p["step"])


def job_curve(provider: str, events: list[dict[str, Any]]) -> list[dict[str, float]]:
    """The curve points of a job of `provider` (together | openai)."""
    return together_points(events) if provider == "together" else openai_points(events)


def write_live(live_dir: Path, curve: list[dict[str, float]], summary: dict[str, Any]) -> None:
    """DVCLive files of a remote job: one TSV row per point per metric under
    `plots/metrics/`, and `metrics.json` with the last values, the step and `summary`.
    With no points the plots folder is empty and metrics.json holds the summary."""
    from dvclive import Live

    (live_dir / "plots" / "metrics").mkdir(parents=True, exist_ok=True)
    if curve:
        live = Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None)
        for point in curve:
            live.step = int(point["step"])
            for name, value in point.items():
                if name != "step":
                    live.log_metric(name, value)
            live.next_step()
        live.end()
    last = {k: v for p in curve for k, v in p.items()}  # the latest value of each metric
    write_json(live_dir / "metrics.json", {**last, **summary})
