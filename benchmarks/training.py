"""Time local SFT and DPO steps on a pipeline's own data under a few settings (precision,
gradient checkpointing), so the default can be chosen on measurements.

Usage: .venv/bin/python benchmarks/training.py [--root DIR] [--steps N] [--set KEY=VALUE ...]

`--root` is a project that has run the pipeline (data/split/train/sft.jsonl, data/dpo/pairs.jsonl,
models/base, models/sft). Each setting trains `--steps` optimizer steps from the same start and
prints seconds per step and the last logged loss; nothing under the root is written.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from repo_agent.pipeline.params import load_params
from repo_agent.training.local import dpo_trainer, sft_trainer

SETTINGS = {
    "bf16, checkpointing (old default)": {"precision": "bf16", "gradient_checkpointing": True},
    "bf16, no checkpointing": {"precision": "bf16", "gradient_checkpointing": False},
    "fp32, no checkpointing": {"precision": "fp32", "gradient_checkpointing": False},
}


def time_steps(make, steps: int) -> tuple[float, float | None]:
    trainer = make()[0]
    trainer.args.max_steps = steps
    trainer.args.logging_steps = max(1, steps // 4)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return seconds / steps, (losses[-1] if losses else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("."))
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    root = args.root
    base = load_params(root / "params.yaml").finetune
    for name, change in SETTINGS.items():
        params = base.model_copy(update=change)
        with tempfile.TemporaryDirectory() as out:
            sft, sft_loss = time_steps(
                lambda p=params, o=out: sft_trainer(
                    root / "models/base", root / "data/split/train/sft.jsonl", Path(o), p
                ),
                args.steps,
            )
            dpo, dpo_loss = time_steps(
                lambda p=params, o=out: dpo_trainer(
                    root / "models/sft", root / "data/dpo/pairs.jsonl", Path(o), p
                ),
                args.steps,
            )
        print(
            f"{name}: sft {sft * 1000:.0f} ms/step (loss {sft_loss:.3f}), "
            f"dpo {dpo * 1000:.0f} ms/step (loss {dpo_loss:.3f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
