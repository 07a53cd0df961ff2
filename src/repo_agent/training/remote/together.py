"""`TogetherBackend`: Together's managed fine-tuning as a `FinetuneBackend`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repo_agent.secrets import api_key_from_env
from repo_agent.training.config import RemoteFinetuneConfig
from repo_agent.training.remote.backend import JobStatus, plain


class TogetherBackend:
    """Together's managed fine-tuning through the `together` SDK (3.x)."""

    provider = "together"
    terminal = {"completed", "error", "user_error", "cancelled"}

    def __init__(self, config: RemoteFinetuneConfig) -> None:
        from together import APIConnectionError, Together

        self.secret = api_key_from_env(config.api_key_env or "TOGETHER_API_KEY")
        self.client = Together(
            api_key=self.secret,
            base_url=config.base_url or None,
            timeout=config.request_timeout_s,
            max_retries=0,
        )
        self.connection_errors: tuple[type[BaseException], ...] = (APIConnectionError,)

    def upload(self, path: Path) -> str:
        return self.client.files.upload(path, purpose="fine-tune", check=True).id

    def file_state(self, file_id: str) -> tuple[str, str]:
        """('ready' | 'pending' | 'failed', detail)."""
        f = self.client.files.retrieve(file_id)
        status = str(f.processing_status or "COMPLETED")
        if status == "COMPLETED":
            return "ready", status
        if status in ("FAILED", "INVALID_FORMAT"):
            report = getattr(f, "validation_report", None)
            return "failed", f"{status}: {getattr(report, 'error', None) or 'rejected by server'}"
        return "pending", status

    def create_sft(self, file_id: str, base_model: str, cfg: RemoteFinetuneConfig) -> str:
        kwargs: dict[str, Any] = {
            "training_file": file_id,
            "model": base_model,
            "n_epochs": cfg.n_epochs,
            "lora": cfg.lora,
            "suffix": cfg.suffix,
            "train_on_inputs": "auto",
        }
        if cfg.lora and cfg.lora_r:
            kwargs["lora_r"] = cfg.lora_r
        return self._create(kwargs, cfg.learning_rate, cfg.batch_size)

    def create_dpo(
        self, file_id: str, sft: dict[str, Any], beta: float, cfg: RemoteFinetuneConfig
    ) -> str:
        # from_checkpoint carries the base model: passing `model` too is a ValueError in the SDK.
        kwargs: dict[str, Any] = {
            "training_file": file_id,
            "from_checkpoint": sft["job_id"],
            "training_method": "dpo",
            "dpo_beta": beta,
            "n_epochs": cfg.dpo_n_epochs,
            "suffix": cfg.suffix,
        }
        return self._create(kwargs, cfg.dpo_learning_rate, cfg.batch_size)

    def _create(self, kwargs: dict[str, Any], lr: float | None, batch: int | None) -> str:
        if lr is not None:
            kwargs["learning_rate"] = lr
        if batch is not None:
            kwargs["batch_size"] = batch
        return self.client.fine_tuning.create(**kwargs).id

    def retrieve(self, job_id: str) -> JobStatus:
        job = self.client.fine_tuning.retrieve(job_id)
        status = str(getattr(job.status, "value", job.status))
        error = None
        if status in {"error", "user_error", "cancelled"}:
            error = _last_error(self.events(job_id)) or f"job {status}"
        # The output name is `output_name` on create but `x_model_output_name` on retrieve.
        model = job.x_model_output_name
        return JobStatus(
            job_id, status, status in self.terminal, status == "completed", model, error
        )

    def events(self, job_id: str) -> list[dict[str, Any]]:
        return [plain(e) for e in self.client.fine_tuning.list_events(job_id).data]

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        return [plain(c) for c in self.client.fine_tuning.list_checkpoints(job_id).data]

    def download(self, job_id: str, checkpoint: str, dest: Path) -> None:
        """Stream the job's final weights (`merged`, `adapter` or `model_output_path`) to
        `dest`: GET /v1/finetune/download, a compressed archive."""
        content = self.client.fine_tuning.with_streaming_response.content
        with content(ft_id=job_id, checkpoint=checkpoint) as response:  # type: ignore[arg-type]
            response.stream_to_file(dest)


def _last_error(events: list[dict[str, Any]]) -> str | None:
    """The message of the last error event (Together's job record carries no error field)."""
    errors = [
        e for e in events if e.get("level") == "error" or "error" in str(e.get("type", "")).lower()
    ]
    return str(errors[-1].get("message")) if errors else None
