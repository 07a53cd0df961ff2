"""Time the full default pipeline and three one-param reruns; print each rerun's ratio to it.

Usage: .venv/bin/python benchmarks/pipeline.py [--keep DIR] [--set KEY=VALUE ...]

Works on a fresh copy of the project (dvc.yaml, params.yaml, src/) in a temporary
git + DVC repository, so the checkout's own data/ and models/ are untouched. The copy's src/
is put first on PYTHONPATH so the timed code is exactly the copied code. Each rerun is a
`dvc exp run -S KEY=VALUE` from the committed full run (the workspace is reset in between);
it prints which stages ran.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run(repo: Path, *args: str) -> tuple[float, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(repo / "src")
    env["DVC_NO_ANALYTICS"] = "1"
    start = time.monotonic()
    proc = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return elapsed, proc.stdout + proc.stderr


RERUNS = ("rubric.loop_penalty=2", "eval.samples=3", "finetune.dpo.beta=0.2")


def stages_run(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def set_param(params: dict, item: str) -> None:
    """Apply one `KEY=VALUE` override (dotted key, YAML value) to a params mapping."""
    key, value = item.split("=", 1)
    *parents, leaf = key.split(".")
    node = params
    for p in parents:
        node = node[p]
    node[leaf] = yaml.safe_load(value)


def make_copy(repo: Path, overrides: list[str]) -> None:
    """A fresh git + DVC repository at `repo` with the project's pipeline, code and params
    (with `overrides` applied), committed."""
    repo.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.yaml", "params.yaml", "src"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, repo / name)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for item in overrides:
        set_param(params, item)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(repo, "git", "init", "-q")
    run(repo, "dvc", "init", "-q")
    shutil.copy(ROOT / ".dvcignore", repo / ".dvcignore")  # bytecode is no dependency
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "bench")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="build the copy here and keep it")
    ap.add_argument("--set", action="append", default=[], help="params override KEY=VALUE")
    args = ap.parse_args()
    repo = args.keep or Path(tempfile.mkdtemp(prefix="ra-bench-")) / "repo"
    make_copy(repo, args.set)
    full, out = run(repo, "dvc", "repro")
    print(f"repo: {repo}")
    print(f"full pipeline (dvc repro): {full:.1f} s  [{len(stages_run(out))} stages ran]")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "repro")
    for change in RERUNS:
        seconds, out = run(repo, "dvc", "exp", "run", "-S", change)
        print(f"-S {change}: {seconds:.1f} s = {seconds / full:.2f} of full  {stages_run(out)}")
        run(repo, "git", "reset", "-q", "--hard")
        run(repo, "dvc", "checkout", "-q", "--force")
    if not args.keep:
        shutil.rmtree(repo.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
