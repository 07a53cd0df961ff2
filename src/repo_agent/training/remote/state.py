"""Local checks and bookkeeping: training-file validation, the inputs hash, and the per-phase
state file that lets a rerun with the same inputs resume the recorded upload and job."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from repo_agent.files import write_json
from repo_agent.formats import RowFormatError, validate_preference_row, validate_sft_row
from repo_agent.training.config import RemoteFinetuneConfig
from repo_agent.training.remote.backend import RemoteFinetuneError

RECORD_FORMAT = "repo-agent.remote-finetune/1"
STATE_FORMAT = "repo-agent.remote-state/2"
STATE_FILE = "remote_state.json"

# Fields that change how we wait, not what is trained: they do not enter the inputs hash.
OPERATIONAL = {
    "poll_interval_s",
    "timeout_s",
    "max_retries",
    "retry_base_s",
    "retry_max_s",
    "request_timeout_s",
    "api_key_env",
    # How the result is served, not what is trained: a change must not relaunch a job.
    "serve",
    "allow_endpoint",
    "endpoint_hardware",
    "endpoint_price_per_hour",
    "max_endpoint_minutes",
    "endpoint_start_timeout_s",
}


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


def inputs_hash(head: dict[str, Any], config: RemoteFinetuneConfig, path: Path) -> str:
    """sha256 of what defines one job: `head` (backend, models, beta), the training settings
    (config minus OPERATIONAL) and the training file's bytes."""
    h = hashlib.sha256()
    head = {**head, "config": config.model_dump(exclude=OPERATIONAL)}
    h.update(json.dumps(head, sort_keys=True).encode())
    h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def load_state(out_dir: Path, backend: str, method: str, digest: str) -> dict[str, Any]:
    """The recorded `method` state for inputs `digest`, or a fresh one (dropping the record of
    other inputs). Each phase needs its own `out_dir`: sharing one would lose the other's job."""
    path = out_dir / STATE_FILE
    if path.is_file():
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("method", method) != method:
            raise RemoteFinetuneError(
                f"{path} holds the {state['method']} phase; give the {method} phase its own dir"
            )
        if state.get("format") == STATE_FORMAT and state.get("inputs_hash") == digest:
            return state
    # A record of other inputs must not be read as ours.
    (out_dir / f"{method}.json").unlink(missing_ok=True)
    return {
        "format": STATE_FORMAT,
        "backend": backend,
        "method": method,
        "inputs_hash": digest,
        "files": {},
        "jobs": {},
    }


def save_state(out_dir: Path, state: dict[str, Any]) -> None:
    write_json(out_dir / STATE_FILE, state)
