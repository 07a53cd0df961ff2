"""Remote fine-tuning on Together (primary) or OpenAI: validate the files locally, upload them,
run the SFT job, then the DPO job from the SFT result, polling each to a terminal state.

Job ids, checkpoints, events and output model names go to `out_dir/sft.json` and
`out_dir/dpo.json`. A state file written right after every upload and job creation makes a
rerun with the same inputs resume polling the recorded jobs instead of launching new ones.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from repo_agent.files import write_json
from repo_agent.formats import RowFormatError, validate_preference_row, validate_sft_row
from repo_agent.policies.retries import Backoff, call_with_retries, describe_error, is_retryable
from repo_agent.policies.secrets import api_key_from_env, scrub
from repo_agent.training.config import RemoteFinetuneConfig

RECORD_FORMAT = "repo-agent.remote-finetune/1"
STATE_FORMAT = "repo-agent.remote-state/1"
STATE_FILE = "remote_state.json"
Backend = Literal["together", "openai"]
T = TypeVar("T")


class RemoteFinetuneError(Exception):
    """A remote fine-tuning step failed (invalid file, API error, failed or stuck job)."""


# Fields that change how we wait, not what is trained: they do not enter the inputs hash.
OPERATIONAL = {
    "poll_interval_s",
    "timeout_s",
    "max_retries",
    "retry_base_s",
    "retry_max_s",
    "request_timeout_s",
    "api_key_env",
}


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    status: str
    terminal: bool
    succeeded: bool
    model: str | None
    error: str | None = None


def _plain(obj: Any) -> dict[str, Any]:
    """An SDK model as a JSON-able dict with the API's own key names."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict(mode="json")
    return dict(obj.model_dump(mode="json", by_alias=True, exclude_none=True))


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
        return [_plain(e) for e in self.client.fine_tuning.list_events(job_id).data]

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        return [_plain(c) for c in self.client.fine_tuning.list_checkpoints(job_id).data]


class OpenAIBackend:
    """OpenAI's fine-tuning API (closed to new users; kept for accounts that still have it)."""

    provider = "openai"
    terminal = {"succeeded", "failed", "cancelled"}

    def __init__(self, config: RemoteFinetuneConfig) -> None:
        import openai

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
        return [_plain(e) for e in self.client.fine_tuning.jobs.list_events(job_id, limit=100).data]

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        return [_plain(c) for c in self.client.fine_tuning.jobs.checkpoints.list(job_id).data]


def _last_error(events: list[dict[str, Any]]) -> str | None:
    errors = [
        e for e in events if e.get("level") == "error" or "error" in str(e.get("type", "")).lower()
    ]
    return str(errors[-1].get("message")) if errors else None


# --- local checks and bookkeeping ------------------------------------------------------------


def validate_file(path: Path, kind: Literal["sft", "preference"]) -> int:
    """Check every line of a training file against its documented format; returns the rows.

    Roles, alternation, exactly one assistant message per preference side, no extra keys.
    """
    if path.suffix != ".jsonl":
        raise RemoteFinetuneError(f"{path}: training files must be .jsonl")
    check = validate_sft_row if kind == "sft" else validate_preference_row
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise RowFormatError("a line must be a JSON object")
            check(row)
        except (json.JSONDecodeError, RowFormatError) as exc:
            raise RemoteFinetuneError(f"{path}:{n}: invalid {kind} row: {exc}") from exc
    if not lines:
        raise RemoteFinetuneError(f"{path}: no rows")
    return len(lines)


def inputs_hash(
    backend: str,
    sft_train: Path,
    pairs_train: Path,
    base_model: str,
    dpo_beta: float,
    config: RemoteFinetuneConfig,
) -> str:
    """sha256 of what defines the jobs: file contents, base model, beta, training settings."""
    h = hashlib.sha256()
    head = {
        "backend": backend,
        "base_model": base_model,
        "dpo_beta": dpo_beta,
        "config": config.model_dump(exclude=OPERATIONAL),
    }
    h.update(json.dumps(head, sort_keys=True).encode())
    for path in (sft_train, pairs_train):
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _load_state(out_dir: Path, backend: str, digest: str) -> dict[str, Any]:
    path = out_dir / STATE_FILE
    if path.is_file():
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("format") == STATE_FORMAT and state.get("inputs_hash") == digest:
            return state
    for stale in ("sft.json", "dpo.json"):  # records of other inputs must not be read as ours
        (out_dir / stale).unlink(missing_ok=True)
    return {
        "format": STATE_FORMAT,
        "backend": backend,
        "inputs_hash": digest,
        "files": {},
        "jobs": {},
    }


# --- the run ---------------------------------------------------------------------------------


class _Runner:
    def __init__(
        self,
        api: TogetherBackend | OpenAIBackend,
        config: RemoteFinetuneConfig,
        out_dir: Path,
        state: dict[str, Any],
        console: Console,
    ) -> None:
        self.api, self.cfg, self.out_dir, self.state, self.console = (
            api,
            config,
            out_dir,
            state,
            console,
        )
        self.backoff = Backoff(config.retry_base_s, config.retry_max_s)

    def call(self, what: str, fn: Callable[[], T], idempotent: bool = True) -> T:
        """One API call with retries; a create is retried only on answers that say it did not
        happen (429, 5xx), never after a timeout that may hide a created job."""

        def retryable(exc: BaseException) -> bool:
            if not idempotent and not isinstance(getattr(exc, "status_code", None), int):
                return False
            return is_retryable(exc, self.api.connection_errors)

        try:
            return call_with_retries(
                fn, max_retries=self.cfg.max_retries, backoff=self.backoff, retryable=retryable
            )
        except Exception as exc:
            text = describe_error(exc, self.cfg.request_timeout_s)
            raise RemoteFinetuneError(
                self.scrub(f"{self.api.provider}: {what} failed: {text}")
            ) from None

    def scrub(self, text: str) -> str:
        return scrub(text, [self.api.secret])

    def save(self) -> None:
        write_json(self.out_dir / STATE_FILE, self.state)

    def ensure_file(self, role: str, path: Path) -> str:
        file_id = self.state["files"].get(role)
        if file_id is None:
            file_id = self.call(
                f"upload of {path}", lambda: self.api.upload(path), idempotent=False
            )
            self.state["files"][role] = file_id
            self.save()
        return file_id

    def wait_file(self, file_id: str, path: Path) -> None:
        deadline = time.monotonic() + self.cfg.timeout_s
        while True:
            state, detail = self.call(
                f"status of file {file_id}", lambda: self.api.file_state(file_id)
            )
            if state == "ready":
                return
            if state == "failed":
                raise RemoteFinetuneError(
                    f"{self.api.provider} rejected {path} (file {file_id}): {detail}"
                )
            if time.monotonic() > deadline:
                raise RemoteFinetuneError(
                    f"file {file_id} still {detail} after {self.cfg.timeout_s}s; rerun to resume"
                )
            time.sleep(self.cfg.poll_interval_s)

    def ensure_job(self, method: str, create: Callable[[], str]) -> str:
        job_id = self.state["jobs"].get(method)
        if job_id is None:
            job_id = self.call(f"creation of the {method} job", create, idempotent=False)
            self.state["jobs"][method] = job_id
            self.save()  # at once: a crash from here on must not launch a second job
        return job_id

    def poll(self, method: str, job_id: str) -> JobStatus:
        deadline = time.monotonic() + self.cfg.timeout_s
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=self.console) as bar:
            task = bar.add_task(f"{self.api.provider} {method} {job_id}: starting")
            while True:
                st = self.call(f"status of job {job_id}", lambda: self.api.retrieve(job_id))
                bar.update(task, description=f"{self.api.provider} {method} {job_id}: {st.status}")
                if st.terminal:
                    return st
                if time.monotonic() > deadline:
                    raise RemoteFinetuneError(
                        f"{self.api.provider} {method} job {job_id} still {st.status} after "
                        f"{self.cfg.timeout_s}s; rerun the stage to resume polling it"
                    )
                time.sleep(self.cfg.poll_interval_s)

    def record(self, method: str, st: JobStatus, **extra: Any) -> dict[str, Any]:
        events = self.call(f"events of job {st.job_id}", lambda: self.api.events(st.job_id))
        ckpts = self.call(
            f"checkpoints of job {st.job_id}", lambda: self.api.checkpoints(st.job_id)
        )
        rec = {
            "format": RECORD_FORMAT,
            "backend": self.api.provider,
            "provider": self.api.provider,
            "method": method,
            "model": st.model,
            "job_id": st.job_id,
            "status": st.status,
            "error": self.scrub(st.error) if st.error else None,
            "inputs_hash": self.state["inputs_hash"],
            "events": events,
            "checkpoints": ckpts,
            **extra,
        }
        rec = json.loads(self.scrub(json.dumps(rec)))
        write_json(self.out_dir / f"{method}.json", rec)
        if not st.succeeded:
            raise RemoteFinetuneError(
                f"{self.api.provider} {method} job {st.job_id} ended with status {st.status}: "
                f"{rec['error']} (delete {self.out_dir / STATE_FILE} to launch a new job)"
            )
        if not st.model:
            raise RemoteFinetuneError(f"{method} job {st.job_id} succeeded but names no model")
        return rec


def run_remote_finetune(
    backend: Backend,
    sft_train: Path,
    pairs_train: Path,
    base_model: str,
    dpo_beta: float,
    config: RemoteFinetuneConfig,
    out_dir: Path,
    *,
    console: Console | None = None,
) -> dict[str, Any]:
    """SFT on `sft_train`, then DPO on `pairs_train` from the SFT result, on a remote service.

    Returns {"backend", "provider", "model" (the DPO model), "sft": record, "dpo": record}.
    Raises RemoteFinetuneError with the server's message when a file or job fails.
    """
    if backend not in ("together", "openai"):
        raise ValueError(f"unknown remote backend {backend!r}")
    if not base_model:
        raise RemoteFinetuneError("finetune.base_model must name the model to fine-tune")
    n_sft = validate_file(sft_train, "sft")
    n_pairs = validate_file(pairs_train, "preference")
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = inputs_hash(backend, sft_train, pairs_train, base_model, dpo_beta, config)
    state = _load_state(out_dir, backend, digest)
    api = TogetherBackend(config) if backend == "together" else OpenAIBackend(config)
    run = _Runner(api, config, out_dir, state, console or Console(stderr=True))

    sft_file = run.ensure_file("sft", sft_train)
    pairs_file = run.ensure_file("pairs", pairs_train)
    run.wait_file(sft_file, sft_train)
    run.wait_file(pairs_file, pairs_train)

    sft_job = run.ensure_job("sft", lambda: api.create_sft(sft_file, base_model, config))
    sft = run.record(
        "sft",
        run.poll("sft", sft_job),
        base_model=base_model,
        training_file=sft_file,
        rows=n_sft,
        n_epochs=config.n_epochs,
    )
    dpo_job = run.ensure_job("dpo", lambda: api.create_dpo(pairs_file, sft, dpo_beta, config))
    dpo = run.record(
        "dpo",
        run.poll("dpo", dpo_job),
        base_model=base_model,
        training_file=pairs_file,
        rows=n_pairs,
        n_epochs=config.dpo_n_epochs,
        dpo_beta=dpo_beta,
        from_job=sft["job_id"],
        from_model=sft["model"],
    )
    return {
        "backend": backend,
        "provider": api.provider,
        "model": dpo["model"],
        "sft": sft,
        "dpo": dpo,
    }
