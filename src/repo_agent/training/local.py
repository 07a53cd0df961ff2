"""Local fine-tuning with TRL: SFT on the train rows, then DPO starting from the SFT weights; on
the CPU by default, on GPUs per the finetune params (training/hardware.py plans it)."""

from __future__ import annotations

import functools
import os
import random
import shutil
import sys
from pathlib import Path
from typing import Any

from repo_agent.files import read_jsonl
from repo_agent.formats import preference_to_trl, sft_to_trl
from repo_agent.training.config import FinetuneParams
from repo_agent.training.hardware import (
    TrainingPlan,
    machine_facts,
    plan_training,
    quantization_kwargs,
    trainer_args,
)


def _history(log_history: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, float]]:
    return [
        {"step": int(h["step"]), **{k: float(h[k]) for k in keys if k in h}}
        for h in log_history
        if any(k in h for k in keys) and "train_runtime" not in h
    ]


def _common_args(
    params: FinetuneParams, plan: TrainingPlan, out: Path, n_rows: int, batch: int
) -> dict[str, Any]:
    steps_per_epoch = max(1, (n_rows + batch - 1) // batch)
    return {
        "output_dir": str(out / "_trainer"),
        "per_device_train_batch_size": batch,
        "logging_steps": max(1, steps_per_epoch // 10),
        "save_strategy": "no",
        "report_to": [],
        "seed": params.seed,
        **trainer_args(plan),
        "dataloader_num_workers": 0,
        # Redrawn bars flood a log file with carriage returns; `_callbacks` prints lines instead.
        "disable_tqdm": not sys.stderr.isatty(),
        "lr_scheduler_type": "cosine",
        "warmup_steps": max(1, steps_per_epoch // 10),
    }


def _callbacks(label: str, live_dir: Path | None) -> list:
    """Progress lines when stderr is not a terminal, DVCLive metrics when `live_dir` is given.

    Built before the trainer: whatever they do at construction happens before its seeding."""
    from repo_agent.training.live import LiveMetrics, ProgressLines

    callbacks: list = [] if sys.stderr.isatty() else [ProgressLines(label)]
    if live_dir is not None:
        callbacks.append(LiveMetrics(live_dir))
    return callbacks


def _train(trainer) -> None:
    from transformers import PrinterCallback

    # With tqdm off the Trainer prints every log dict to stdout; the progress lines replace it.
    trainer.remove_callback(PrinterCallback)
    trainer.train()


def _quiet_bars_unless_tty(train):
    """Run `train` with the loading/tokenizing/saving progress bars off when stderr is a file."""

    @functools.wraps(train)
    def run(*args, **kwargs):
        from repo_agent.training.live import bars_only_on_tty

        with bars_only_on_tty():
            return train(*args, **kwargs)

    return run


def length_grouped(rows: list[dict[str, Any]], batch: int, seed: int) -> list[dict[str, Any]]:
    """TRL preference rows in training order: shuffled (seeded), cut into megabatches of 50
    batches, each sorted longest first, so a batch pads little (what SFT's `group_by_length`
    does; TRL's DPO dataset has no column the Trainer's sampler can measure). Length: the
    characters of the prompt and the longer answer.

    >>> rows = [{"prompt": [{"content": "x" * n}], "chosen": [{"content": ""}],
    ...          "rejected": [{"content": ""}]} for n in (5, 1, 9, 3)]
    >>> [len(r["prompt"][0]["content"]) for r in length_grouped(rows, 2, 0)]
    [9, 5, 3, 1]
    """

    def size(row: dict[str, Any]) -> int:
        def chars(messages: list[dict[str, Any]]) -> int:
            return sum(len(m.get("content") or "") for m in messages)

        return chars(row["prompt"]) + max(chars(row["chosen"]), chars(row["rejected"]))

    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    mega = 50 * batch
    out: list[dict[str, Any]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: -size(rows[i]))
        out += [rows[i] for i in chunk]
    return out


def _lora(params: FinetuneParams):
    if not params.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=params.lora_r, lora_alpha=2 * params.lora_r, task_type="CAUSAL_LM")


def _prepare(model_dir: Path, rows_file: Path, convert, params: FinetuneParams):
    """The plan (its errors come first), rows converted to TRL's format, the tokenizer and the
    model (torch threads set; under QLoRA loaded in 4-bit on this process's GPU)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    plan = plan_training(params, machine_facts())
    torch.set_num_threads(params.threads)
    rows = [convert(r) for r in read_jsonl(rows_file)]
    if not rows:
        raise ValueError(f"{rows_file}: no rows to train on")
    # Dataset.from_list takes its columns from the first row: mixed rows would lose the tools.
    if len({"tools" in r for r in rows}) > 1:
        raise ValueError(
            f"{rows_file}: some rows carry tools and some do not; give rows of one tool protocol"
        )
    tok = AutoTokenizer.from_pretrained(model_dir)
    load: dict[str, Any] = {}
    if plan.quantize_4bit:
        from transformers import BitsAndBytesConfig

        load = {
            "quantization_config": BitsAndBytesConfig(**quantization_kwargs(plan)),
            "device_map": {"": int(os.environ.get("LOCAL_RANK", "0"))},
        }
    return plan, rows, tok, AutoModelForCausalLM.from_pretrained(model_dir, **load)


def sft_trainer(
    base: Path,
    train_file: Path,
    out: Path,
    params: FinetuneParams,
    *,
    live_dir: Path | None = None,
) -> tuple[Any, int, TrainingPlan]:
    """The SFTTrainer for `train_file` from the model in `base` (its dataset tokenized), the
    number of rows read and the training plan.

    Rows become prompt/completion (loss on the action only); a row's `tools` go to the chat
    template, which renders them if it knows how (a Qwen template does, the embedded
    student's ignores them)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    plan, rows, tok, model = _prepare(base, train_file, sft_to_trl, params)
    cfg = SFTConfig(
        **_common_args(params, plan, out, len(rows), params.sft.batch_size),
        num_train_epochs=params.sft.epochs,
        learning_rate=params.sft.learning_rate,
        max_length=params.sft.max_length,
        completion_only_loss=True,
        packing=False,
        # Rows range from ~100 to ~1500 tokens; batching similar lengths avoids most padding.
        train_sampling_strategy="group_by_length",
    )
    callbacks = _callbacks("sft", live_dir)
    trainer = SFTTrainer(
        model=model,
        args=cfg,
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        peft_config=_lora(params),
        callbacks=callbacks,
    )
    return trainer, len(rows), plan


@_quiet_bars_unless_tty
def train_sft(
    base: Path,
    train_file: Path,
    out: Path,
    params: FinetuneParams,
    *,
    live_dir: Path | None = None,
) -> dict[str, Any]:
    """SFT with loss on the action only (prompt/completion rows); saves weights to `out`.

    With `live_dir`, DVCLive writes the logged metrics there as training runs."""
    trainer, rows, plan = sft_trainer(base, train_file, out, params, live_dir=live_dir)
    return _fit(trainer, rows, plan, out, base, ("loss", "mean_token_accuracy"))


def dpo_trainer(
    sft_dir: Path,
    pairs_file: Path,
    out: Path,
    params: FinetuneParams,
    *,
    live_dir: Path | None = None,
) -> tuple[Any, int, TrainingPlan]:
    """The DPOTrainer for `pairs_file` from the SFT weights in `sft_dir` (also the reference
    model, loaded from disk; its dataset tokenized), the number of rows read and the training
    plan. A row's `tools` go to the chat template."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    plan, rows, tok, model = _prepare(sft_dir, pairs_file, preference_to_trl, params)
    ref = None if params.lora else AutoModelForCausalLM.from_pretrained(sft_dir)
    cfg = DPOConfig(
        **_common_args(params, plan, out, len(rows), params.dpo.batch_size),
        num_train_epochs=params.dpo.epochs,
        learning_rate=params.dpo.learning_rate,
        beta=params.dpo.beta,
        # Pure DPO lowered the preferred actions' likelihood too and broke the tiny student's
        # JSON; an SFT term on the preferred side keeps it (RPO).
        loss_type=["sigmoid", "sft"] if params.dpo.sft_weight > 0 else ["sigmoid"],
        loss_weights=[1.0, params.dpo.sft_weight] if params.dpo.sft_weight > 0 else None,
        max_length=params.dpo.max_length,
        # The rows come length-grouped (a third of the tokens were padding in random batches).
        train_sampling_strategy="sequential",
    )
    callbacks = _callbacks("dpo", live_dir)
    trainer = DPOTrainer(
        model=model,
        ref_model=ref,
        args=cfg,
        train_dataset=Dataset.from_list(length_grouped(rows, params.dpo.batch_size, params.seed)),
        processing_class=tok,
        peft_config=_lora(params),
        callbacks=callbacks,
    )
    return trainer, len(rows), plan


@_quiet_bars_unless_tty
def train_dpo(
    sft_dir: Path,
    pairs_file: Path,
    out: Path,
    params: FinetuneParams,
    *,
    live_dir: Path | None = None,
) -> dict[str, Any]:
    """DPO from the SFT weights (the reference model is the SFT model, loaded from disk).

    With `live_dir`, DVCLive writes the logged metrics there as training runs."""
    trainer, rows, plan = dpo_trainer(sft_dir, pairs_file, out, params, live_dir=live_dir)
    keys = ("loss", "rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected")
    return _fit(trainer, rows, plan, out, sft_dir, keys)


def _fit(
    trainer, rows: int, plan: TrainingPlan, out: Path, start: Path, keys: tuple[str, ...]
) -> dict[str, Any]:
    """Train, save the full weights to `out`, and return the rows read and the logged `keys`."""
    _train(trainer)
    _save(trainer, trainer.processing_class, out, start, plan)
    return {"rows": rows, "curve": _history(trainer.state.log_history, keys)}


def _save(trainer, tok, out: Path, start: Path, plan: TrainingPlan) -> None:
    """Full weights to `out` (LoRA merged in), by the main process only."""
    if not trainer.is_world_process_zero():
        return
    out.mkdir(parents=True, exist_ok=True)
    model = trainer.model
    if plan.quantize_4bit:
        # Merging into 4-bit weights would round them: merge into the start model's full weights.
        adapter = out / "_adapter"
        model.save_pretrained(adapter)
        dtype = "float16" if plan.precision == "fp16" else "bfloat16"
        model = merge_adapter(start, adapter, dtype)
        shutil.rmtree(adapter, ignore_errors=True)
    elif hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    shutil.rmtree(out / "_trainer", ignore_errors=True)


def merge_adapter(base: Path, adapter: Path, dtype: str = "float32"):
    """The model at `base` loaded on the CPU in `dtype` with the LoRA adapter at `adapter`
    merged into its weights (a plain transformers model, ready to save)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    return PeftModel.from_pretrained(model, adapter).merge_and_unload()
