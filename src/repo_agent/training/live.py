"""Trainer callbacks that report training as it runs: DVCLive metric files and plain progress
lines for logs that are not a terminal. Neither touches the model, the data or any RNG."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from transformers import TrainerCallback

# The last log of a run is a summary (`train_runtime`, `train_loss` = mean loss, ...), not a step.
_SUMMARY_KEYS = ("train_runtime", "total_flos")


def _scalar(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class LiveMetrics(TrainerCallback):
    """Logs every Trainer log to DVCLive at step = global step, and the run summary at the end.

    Names are dvclive's Hugging Face names: TRL's keys as they are (`loss`,
    `rewards/accuracies`), `train_` → `train/`. `live_dir/plots/metrics/<name>.tsv` gets one
    row per logged step; `live_dir/metrics.json` holds the latest values and the summary.
    """

    def __init__(self, live_dir: Path) -> None:
        from dvclive import Live

        # No dvc.yaml edits, no experiment, no report: the DVC stage declares `live_dir`.
        self.live = Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None)

    def on_log(self, args, state, control, logs=None, **kwargs):
        from dvclive.utils import standardize_metric_name

        if not state.is_world_process_zero or not logs:
            return
        summary = any(k in logs for k in _SUMMARY_KEYS)
        self.live.step = state.global_step
        for key, value in logs.items():
            if _scalar(value):
                name = standardize_metric_name(key, "dvclive.huggingface")
                self.live.log_metric(name, value, plot=not summary)
        if not summary:
            self.live.next_step()

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.live.end()


def _duration(seconds: float) -> str:
    """`2.5 s`, `45 s`, `3 min`, `1.5 h`."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ProgressLines(TrainerCallback):
    """A plain line every ~10% of the steps, for logs where a redrawn bar would be noise:

    `sft: step 120/690 (17%) loss 1.234 · 45 s elapsed, ~3 min left`
    """

    def __init__(self, label: str, stream: TextIO | None = None, parts: int = 10) -> None:
        self.label, self.stream, self.parts = label, stream, parts
        self._start = 0.0
        self._loss: float | None = None
        self._pending = False

    def _write(self, text: str) -> None:
        print(f"{self.label}: {text}", file=self.stream or sys.stderr, flush=True)

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        every = max(1, -(-state.max_steps // self.parts))
        if state.global_step % every and state.global_step != state.max_steps:
            return
        # DefaultFlowCallback ran first: if this step logs, wait for its fresh loss.
        self._pending = True
        if not control.should_log:
            self._report(state)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self._loss = float(logs["loss"])
        if self._pending:
            self._report(state)

    def _report(self, state) -> None:
        self._pending = False
        if not state.is_world_process_zero:
            return
        step, total = state.global_step, max(1, state.max_steps)
        elapsed = time.monotonic() - self._start
        left = elapsed / max(1, step) * (total - step)
        loss = f" loss {self._loss:.3f}" if self._loss is not None else ""
        self._write(
            f"step {step}/{total} ({100 * step // total}%){loss}"
            f" · {_duration(elapsed)} elapsed, ~{_duration(left)} left"
        )

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            elapsed = _duration(time.monotonic() - self._start)
            self._write(f"done, {state.global_step} steps in {elapsed}")


@contextmanager
def bars_only_on_tty() -> Iterator[None]:
    """Turn off the datasets / transformers progress bars (tokenizing, saving) while stderr is
    not a terminal; their carriage-return redraws are noise in a log file."""
    if sys.stderr.isatty():
        yield
        return
    import datasets
    from transformers.utils import logging as hf_logging

    datasets_on, hf_on = (
        not datasets.are_progress_bars_disabled(),
        hf_logging.is_progress_bar_enabled(),
    )
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if datasets_on:
            datasets.enable_progress_bars()
        if hf_on:
            hf_logging.enable_progress_bar()
