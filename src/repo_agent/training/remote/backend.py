"""What the runner needs from a fine-tuning service: the `FinetuneBackend` protocol, the
`JobStatus` it reports and the error every remote step raises."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from repo_agent.training.config import RemoteFinetuneConfig

Backend = Literal["together", "openai"]


class RemoteFinetuneError(Exception):
    """A remote fine-tuning step failed (invalid file, API error, failed or stuck job)."""


@dataclass(frozen=True)
class JobStatus:
    """One poll of a job: its status, whether it is over, and the output model if any."""

    job_id: str
    status: str
    terminal: bool
    succeeded: bool
    model: str | None
    error: str | None = None


@runtime_checkable
class FinetuneBackend(Protocol):
    """A managed fine-tuning API: upload files, create SFT and DPO jobs, poll them."""

    provider: str
    terminal: set[str]
    """Job statuses after which the job never changes."""
    secret: str
    """The API key: `JobRunner` registers it (`repo_agent.secrets.register_secret`), so it is
    scrubbed from every message and record."""
    connection_errors: tuple[type[BaseException], ...]

    def upload(self, path: Path) -> str:
        """Upload a training file; returns its file id."""
        ...

    def file_state(self, file_id: str) -> tuple[str, str]:
        """('ready' | 'pending' | 'failed', detail)."""
        ...

    def create_sft(self, file_id: str, base_model: str, cfg: RemoteFinetuneConfig) -> str:
        """Launch the SFT job; returns its job id."""
        ...

    def create_dpo(
        self, file_id: str, sft: dict[str, Any], beta: float, cfg: RemoteFinetuneConfig
    ) -> str:
        """Launch the DPO job from the SFT record `sft`; returns its job id."""
        ...

    def retrieve(self, job_id: str) -> JobStatus: ...

    def events(self, job_id: str) -> list[dict[str, Any]]: ...

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]: ...


def plain(obj: Any) -> dict[str, Any]:
    """An SDK model as a JSON-able dict with the API's own key names."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict(mode="json")
    return dict(obj.model_dump(mode="json", by_alias=True, exclude_none=True))
