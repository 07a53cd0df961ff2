"""The results gate (`make check-results`, run by CI after the tests): the committed `dvc.lock`,
`metrics/` and README.md's results block come from the committed code and params. Exit 1 with
the stale stages, what changed in each, and the command that refreshes them; 0 when current.

Outputs missing from the workspace are not stale (a fresh clone has none of them): only a
changed dep, param or tracked metrics file, or a stage never run, is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GONE = {"deleted", "not in cache"}  # an output or dep that is simply not here
REFRESH = (
    "make repro && make results, then commit dvc.lock, metrics/, dvclive/, reports/, plots/ "
    "and README.md"
)


def dvc_status(root: Path) -> dict[str, list[object]]:
    """`dvc status --json` of the project at `root`."""
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dvc status failed: {(proc.stderr or proc.stdout).strip()}")
    return json.loads(proc.stdout or "{}")


def stale_entries(status: dict[str, list[object]]) -> dict[str, list[str]]:
    """What `dvc status` reports beyond missing files, by stage: a dep that changed or is new,
    a changed param, a modified output (a hand-edited metrics file), a stage never run.

    >>> stale_entries({
    ...     "eval@sft": [{"changed deps": {"models/sft": "deleted"}}],
    ...     "pair": [{"changed deps": {"src/repo_agent/data": "modified"}}],
    ...     "split": [{"changed deps": {"params.yaml": {"split.seed": "modified"}}}],
    ...     "report": [{"changed outs": {"metrics/eval.json": "modified"}}, "always changed"],
    ... })
    {'pair': ['dep src/repo_agent/data modified'], 'split': ['param split.seed modified'], \
'report': ['out metrics/eval.json modified', 'always changed']}
    """
    stale: dict[str, list[str]] = {}
    for stage, entries in status.items():
        found: list[str] = []
        for entry in entries:
            if not isinstance(entry, dict):
                found.append(str(entry))
                continue
            for kind, key in (("dep", "changed deps"), ("out", "changed outs")):
                for path, state in (entry.get(key) or {}).items():
                    if isinstance(state, dict):  # a params file: {key: state}
                        found += [f"param {name} {change}" for name, change in state.items()]
                    elif state not in GONE:
                        found.append(f"{kind} {path} {state}")
            for changes in (entry.get("changed params") or {}).values():
                found += [f"param {name} {state}" for name, state in changes.items()]
        if found:
            stale[stage] = found
    return stale


def readme_problem(root: Path) -> str | None:
    """Why README.md's results block is not what metrics/eval.json renders, or None: the
    `--check` of scripts/results.py, which writes the block."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("results.py")), "--check"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if proc.returncode == 0:
        return None
    if proc.returncode == 1:
        return proc.stderr.strip()
    raise RuntimeError(proc.stderr.strip().removeprefix("error: "))


def main(root: Path = Path(".")) -> int:
    try:
        stale = stale_entries(dvc_status(root))
        readme = readme_problem(root)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: results gate: {exc}", file=sys.stderr)
        return 2
    if not stale and readme is None:
        print("results gate: dvc.lock, metrics/ and the README results come from this code")
        return 0
    lines = []
    if stale:
        lines.append(
            f"results gate: {len(stale)} stage(s) stale since dvc.lock was written: "
            + ", ".join(stale)
        )
        lines += [f"  {stage}: {'; '.join(found)}" for stage, found in stale.items()]
    if readme is not None:
        lines.append(f"results gate: {readme}")
    lines.append(f"refresh: {REFRESH}")
    print("\n".join(lines), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
