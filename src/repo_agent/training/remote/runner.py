"""Remote fine-tuning on Together (primary) or OpenAI as two phases, each its own job with its
own out dir: `run_remote_sft` trains from the base model, `run_remote_dpo` from the SFT job.

Each phase validates its file locally, uploads it, creates the job and polls it to a terminal
state; job ids, checkpoints, events and the output model go to `out_dir/sft.json` or
`out_dir/dpo.json`. A per-phase state file makes a rerun with the same inputs resume polling
the recorded job, so a new preference file retrains DPO without touching SFT.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from repo_agent.training.config import RemoteFinetuneConfig
from repo_agent.training.remote.backend import Backend, FinetuneBackend, RemoteFinetuneError
from repo_agent.training.remote.job import JobRunner
from repo_agent.training.remote.openai import OpenAIBackend
from repo_agent.training.remote.state import inputs_hash, load_state, validate_file
from repo_agent.training.remote.together import TogetherBackend


def make_backend(backend: Backend, config: RemoteFinetuneConfig) -> FinetuneBackend:
    """The client for `backend`, with its API key read from the environment."""
    if backend == "together":
        return TogetherBackend(config)
    if backend == "openai":
        return OpenAIBackend(config)
    raise ValueError(f"unknown remote backend {backend!r}")


def _check_backend(backend: Backend) -> None:
    if backend not in ("together", "openai"):
        raise ValueError(f"unknown remote backend {backend!r}")


def _check_sft_record(backend: Backend, sft: dict[str, Any]) -> None:
    """DPO starts from a finished SFT job of the same service: say so before any request."""
    where = sft.get("provider") or sft.get("backend")
    if where != backend:
        raise RemoteFinetuneError(
            f"the SFT record is for backend {where!r}, not {backend!r}: rerun SFT on {backend}"
        )
    for key in ("job_id", "model"):
        if not isinstance(sft.get(key), str) or not sft[key]:
            raise RemoteFinetuneError(
                f"the SFT record has no {key} (status {sft.get('status')!r}): "
                "DPO needs a finished SFT job"
            )


def run_remote_sft(
    backend: Backend,
    sft_train: Path,
    base_model: str,
    config: RemoteFinetuneConfig,
    out_dir: Path,
    *,
    console: Console | None = None,
) -> dict[str, Any]:
    """SFT of `base_model` on `sft_train`; writes and returns the record `out_dir/sft.json`.

    Raises RemoteFinetuneError with the server's message when the file or the job fails.
    """
    _check_backend(backend)
    if not base_model:
        raise RemoteFinetuneError("finetune.base_model must name the model to fine-tune")
    rows = validate_file(sft_train, "sft")
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = inputs_hash({"backend": backend, "base_model": base_model}, config, sft_train)
    state = load_state(out_dir, backend, "sft", digest)
    api = make_backend(backend, config)
    run = JobRunner(api, config, out_dir, state, console or Console(stderr=True))

    file_id = run.ensure_file("sft", sft_train)
    run.wait_file(file_id, sft_train)
    job_id = run.ensure_job("sft", lambda: api.create_sft(file_id, base_model, config))
    return run.record(
        "sft",
        run.poll("sft", job_id),
        base_model=base_model,
        training_file=file_id,
        rows=rows,
        n_epochs=config.n_epochs,
    )


def run_remote_dpo(
    backend: Backend,
    pairs_train: Path,
    sft: dict[str, Any],
    dpo_beta: float,
    config: RemoteFinetuneConfig,
    out_dir: Path,
    *,
    console: Console | None = None,
) -> dict[str, Any]:
    """DPO on `pairs_train` from the SFT job of the record `sft` (as run_remote_sft wrote it);
    writes and returns the record `out_dir/dpo.json`.

    Raises RemoteFinetuneError for an SFT record of another backend or without a model, and
    with the server's message when the file or the job fails.
    """
    _check_backend(backend)
    _check_sft_record(backend, sft)
    rows = validate_file(pairs_train, "preference")
    out_dir.mkdir(parents=True, exist_ok=True)
    head = {
        "backend": backend,
        "sft_job": sft["job_id"],
        "sft_model": sft["model"],
        "dpo_beta": dpo_beta,
    }
    state = load_state(out_dir, backend, "dpo", inputs_hash(head, config, pairs_train))
    api = make_backend(backend, config)
    run = JobRunner(api, config, out_dir, state, console or Console(stderr=True))

    file_id = run.ensure_file("pairs", pairs_train)
    run.wait_file(file_id, pairs_train)
    job_id = run.ensure_job("dpo", lambda: api.create_dpo(file_id, sft, dpo_beta, config))
    return run.record(
        "dpo",
        run.poll("dpo", job_id),
        base_model=sft.get("base_model"),
        training_file=file_id,
        rows=rows,
        n_epochs=config.dpo_n_epochs,
        dpo_beta=dpo_beta,
        from_job=sft["job_id"],
        from_model=sft["model"],
    )
