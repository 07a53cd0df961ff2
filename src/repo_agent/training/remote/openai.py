"""`OpenAIBackend`: OpenAI's fine-tuning API as a `FinetuneBackend`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repo_agent.secrets import api_key_from_env
from repo_agent.training.config import RemoteFinetuneConfig
from repo_agent.training.remote.backend import JobStatus, plain


class OpenAIBackend:
    """OpenAI's fine-tuning API (closed to new users; kept for accounts that still have it)."""

    provider = "openai"
    terminal = {"succeeded", "failed", "cancelled"}

    def __init__(self, config: RemoteFinetuneConfig) -> None:
        import openai  # the SDK: imports are absolute, so this is not this module

        self.secret = api_key_from_env(config.api_key_env or "OPENAI_API_KEY")
        self.client = openai.OpenAI(
            api_key=self.secret,
            base_url=config.base_url or None,
            timeout=config.request_timeout_s,
            max_retries=0,
        )
        self.connection_errors: tuple[type[BaseException], ...] = (openai.APIConnectionError,)

    def upload(self, path: Path) -> str:
        with path.open("rb") as fh:
            return self.client.files.create(file=fh, purpose="fine-tune").id

    def file_state(self, file_id: str) -> tuple[str, str]:
        """('ready' | 'pending' | 'failed', detail)."""
        f = self.client.files.retrieve(file_id)
        if f.status == "processed":
            return "ready", f.status
        if f.status == "error":
            return "failed", f"error: {f.status_details or 'rejected by server'}"
        return "pending", str(f.status)

    def _hyper(self, epochs: int, lr: float | None, batch: int | None) -> dict[str, Any]:
        hyper: dict[str, Any] = {"n_epochs": epochs}
        if lr is not None:
            hyper["learning_rate_multiplier"] = lr
        if batch is not None:
            hyper["batch_size"] = batch
        return hyper

    def create_sft(self, file_id: str, base_model: str, cfg: RemoteFinetuneConfig) -> str:
        hyper = self._hyper(cfg.n_epochs, cfg.learning_rate, cfg.batch_size)
        job = self.client.fine_tuning.jobs.create(
            model=base_model,
            training_file=file_id,
            suffix=cfg.suffix,
            method={"type": "supervised", "supervised": {"hyperparameters": hyper}},
        )
        return job.id

    def create_dpo(
        self, file_id: str, sft: dict[str, Any], beta: float, cfg: RemoteFinetuneConfig
    ) -> str:
        hyper = {
            "beta": beta,
            **self._hyper(cfg.dpo_n_epochs, cfg.dpo_learning_rate, cfg.batch_size),
        }
        job = self.client.fine_tuning.jobs.create(
            model=sft["model"],
            training_file=file_id,
            suffix=cfg.suffix,
            method={"type": "dpo", "dpo": {"hyperparameters": hyper}},
        )
        return job.id

    def retrieve(self, job_id: str) -> JobStatus:
        job = self.client.fine_tuning.jobs.retrieve(job_id)
        status, error = job.status, None
        if status in ("failed", "cancelled"):
            error = job.error.message if job.error else f"job {status}"
        done = status == "succeeded"
        return JobStatus(job_id, status, status in self.terminal, done, job.fine_tuned_model, error)

    def events(self, job_id: str) -> list[dict[str, Any]]:
        return [plain(e) for e in self.client.fine_tuning.jobs.list_events(job_id, limit=100).data]

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        return [plain(c) for c in self.client.fine_tuning.jobs.checkpoints.list(job_id).data]
