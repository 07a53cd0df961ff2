"""`JobRunner`: the machinery of one remote fine-tuning phase. Uploads and creates are saved to
the phase's state file at once, so a crash or timeout never launches a second job."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from repo_agent.files import write_json
from repo_agent.retries import Backoff, call_with_retries, describe_error, is_retryable
from repo_agent.secrets import register_secret, scrub
from repo_agent.training.config import RemoteFinetuneConfig
from repo_agent.training.remote.backend import FinetuneBackend, JobStatus, RemoteFinetuneError
from repo_agent.training.remote.state import RECORD_FORMAT, STATE_FILE, save_state

T = TypeVar("T")


class JobRunner:
    """One phase's upload, job and record, with retries, polling and key scrubbing; every id
    goes to the state file in `out_dir` as soon as the server hands it out."""

    def __init__(
        self,
        api: FinetuneBackend,
        config: RemoteFinetuneConfig,
        out_dir: Path,
        state: dict[str, Any],
        console: Console,
    ) -> None:
        self.api = api
        register_secret(api.secret)  # masked in every later scrub of this process, too
        self.cfg = config
        self.out_dir = out_dir
        self.state = state
        self.console = console
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

    def ensure_file(self, role: str, path: Path) -> str:
        file_id = self.state["files"].get(role)
        if file_id is None:
            file_id = self.call(
                f"upload of {path}", lambda: self.api.upload(path), idempotent=False
            )
            self.state["files"][role] = file_id
            save_state(self.out_dir, self.state)
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
            # At once: a crash from here on must not launch a second job.
            save_state(self.out_dir, self.state)
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
