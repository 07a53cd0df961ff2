"""What is committed (dvc.lock, metrics, the README's result table) comes from the committed
code and params: a stage whose code or params changed since its recorded run fails here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from import_graph import ROOT


def dvc_status() -> dict[str, list[object]]:
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(
        ["dvc", "status", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout or "{}")


def stale_entries(status: dict[str, list[object]]) -> list[str]:
    """What `dvc status` reports beyond missing outputs (a fresh clone has none of them): a dep
    that changed or is new, a changed param, a stage never run."""
    stale = []
    for stage, entries in status.items():
        for entry in entries:
            if not isinstance(entry, dict):
                stale.append(f"{stage}: {entry}")
                continue
            for path, state in (entry.get("changed deps") or {}).items():
                if state != "deleted":
                    stale.append(f"{stage}: dep {path} {state}")
            for path, state in (entry.get("changed params") or {}).items():
                stale.append(f"{stage}: params {path} {state}")
    return stale


def test_stale_entries_ignore_missing_outputs_only() -> None:
    status = {
        "eval@sft": [{"changed deps": {"models/sft": "deleted"}, "changed outs": {"x": "deleted"}}],
        "pair": [{"changed deps": {"src/repo_agent/data": "modified"}}],
        "report": [{"changed deps": {"params.yaml": "new"}}, "always changed"],
        "split": [{"changed params": {"params.yaml": {"split.seed": "modified"}}}],
    }
    assert stale_entries(status) == [
        "pair: dep src/repo_agent/data modified",
        "report: dep params.yaml new",
        "report: always changed",
        "split: params params.yaml {'split.seed': 'modified'}",
    ]


def test_dvc_lock_matches_the_committed_code_and_params() -> None:
    stale = stale_entries(dvc_status())
    assert not stale, "rerun the pipeline (make repro) and commit what it wrote:\n" + "\n".join(
        stale
    )


def test_the_readme_results_block_is_generated_from_the_committed_metrics() -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/results.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
