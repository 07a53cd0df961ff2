"""The files of one `repo-agent run --out X.jsonl`: results, the traces and settings beside
them, and the checks that make a rerun resume safely (settings must match, --force moves old
runs aside)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from repo_agent.cli.common import console, fail
from repo_agent.files import write_text_atomic
from repo_agent.traces import TraceFormatError, TraceWriter, lock_path, traces_beside

SETTINGS_FORMAT = "repo-agent.run-settings/1"


class RunSettings(BaseModel):
    """What decides the runs in an `--out` file, stored beside it: a resume must match it.
    Tasks and rollouts may grow; concurrency, the cache and API timeouts change no result."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["repo-agent.run-settings/1"] = SETTINGS_FORMAT
    suite: str
    path: str | None
    test_cmd: str | None
    policy: str
    model: str
    base_url: str | None
    tool_protocol: str
    test_policy: str
    max_steps: int
    explore: float
    seed: int
    sandbox: str
    constrain: str = "none"  # settings files from before constrained decoding lack it


def settings_changes(old: RunSettings, new: RunSettings) -> list[str]:
    """The settings that differ, as `name old → new`.

    >>> a = RunSettings(suite="builtin", path=None, test_cmd=None, policy="oracle", model="",
    ...     base_url=None, tool_protocol="json", test_policy="on_final", max_steps=12,
    ...     explore=0.0, seed=0, sandbox="auto")
    >>> settings_changes(a, a.model_copy(update={"max_steps": 1, "model": "m"}))
    ["model '' → 'm'", 'max_steps 12 → 1']
    """
    before, after = old.model_dump(), new.model_dump()
    return [f"{k} {before[k]!r} → {after[k]!r}" for k in after if before[k] != after[k]]


@dataclass(frozen=True)
class RunFiles:
    """The files of one `--out`: results, the traces and the settings beside them."""

    results: Path
    traces: Path
    settings: Path

    @classmethod
    def of(cls, out: Path) -> RunFiles:
        return cls(out, traces_beside(out), out.with_suffix(".settings.json"))

    def all(self) -> tuple[Path, ...]:
        return (self.results, self.traces, self.settings)

    def has_runs(self) -> bool:
        return any(p.is_file() and p.stat().st_size > 0 for p in (self.results, self.traces))


def check_out(out: Path) -> RunFiles:
    """The files of `--out`, its directory made; exits 2 when they cannot be files."""
    files = RunFiles.of(out)
    if len(set(files.all())) < 3:
        fail(f"--out {out}: name it X.jsonl (traces go to X.traces.jsonl)")
    for p in (*files.all(), lock_path(out)):
        if p.is_dir():
            fail(f"--out {out}: {p} is a directory; give a file such as {out}/runs.jsonl")
    blocker = next((d for d in out.parents if d.exists() and not d.is_dir()), None)
    if blocker is not None:
        fail(f"--out {out}: {blocker} is a file, not a directory")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(exc, f"--out {out}: ")
    return files


def check_settings(files: RunFiles, settings: RunSettings, force: bool) -> None:
    """Exit 2 unless the runs already in `files` were made with `settings` (or --force)."""
    if force or not files.has_runs():
        return
    again = (
        f"use a new --out, or --force to move them aside to {aside(files.results)} and start over"
    )
    if not files.settings.is_file():
        fail(f"{files.results} holds runs of unknown settings (no {files.settings}); {again}")
    try:
        old = RunSettings.model_validate_json(files.settings.read_bytes())
    except (OSError, ValueError) as exc:
        fail(exc, f"cannot read {files.settings} ({again}): ")
    changes = settings_changes(old, settings)
    if changes:
        fail(f"{files.results} holds runs made with other settings: {'; '.join(changes)}; {again}")


def aside(out: Path) -> Path:
    """Where --force moves an `--out` file, so that its traces stay beside it.

    >>> aside(Path("runs/oracle.jsonl")).as_posix()
    'runs/oracle.old.jsonl'
    """
    return out.with_name(f"{out.stem}.old{out.suffix or '.jsonl'}")


def move_aside(files: RunFiles) -> list[Path]:
    """--force: rename the old results, traces and settings to those of `aside(results)`,
    replacing files an earlier --force moved there."""
    moved = []
    for p, old in zip(files.all(), RunFiles.of(aside(files.results)).all(), strict=True):
        if p.exists():
            os.replace(p, old)
            moved.append(old)
    return moved


def open_writer(files: RunFiles, settings: RunSettings, force: bool) -> TraceWriter:
    """Stamp the settings beside the results (after --force moved old runs aside) and open the
    trace writer, which compacts the traces and rebuilds the results file from them."""
    try:
        if force and (moved := move_aside(files)):
            console.print(f"--force: moved the old runs aside: {', '.join(map(str, moved))}")
        write_text_atomic(files.settings, settings.model_dump_json(indent=2) + "\n")
        return TraceWriter(files.traces, results_path=files.results)
    except (OSError, TraceFormatError) as exc:
        fail(exc)
