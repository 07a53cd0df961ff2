"""The results gate (`make check-results`, scripts/check_results.py) as CI runs it: on a copy of
the project with a deliberately stale edit, and on a tiny DVC project before and after one."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from import_graph import ROOT

SCRIPT = ROOT / "scripts" / "check_results.py"


def gate_module():
    spec = importlib.util.spec_from_file_location("check_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def gate(cwd: Path) -> subprocess.CompletedProcess:
    return run(cwd, sys.executable, str(SCRIPT))


def git_repo(root: Path) -> None:
    for argv in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
        assert run(root, *argv).returncode == 0


def test_stale_entries_ignore_missing_files_only() -> None:
    status = {
        "eval@sft": [{"changed deps": {"models/sft": "deleted"}, "changed outs": {"x": "deleted"}}],
        "extract": [{"changed outs": {"data/extract": "not in cache"}}],
        "pair": [{"changed deps": {"src/repo_agent/data": "modified"}}],
        "report": [{"changed deps": {"params.yaml": "new"}}, "always changed"],
        "split": [{"changed deps": {"params.yaml": {"split.seed": "modified"}}}],
        "heldout": [{"changed params": {"params.yaml": {"eval.heldout_mutants": "new"}}}],
    }
    assert gate_module().stale_entries(status) == {
        "pair": ["dep src/repo_agent/data modified"],
        "report": ["dep params.yaml new", "always changed"],
        "split": ["param split.seed modified"],
        "heldout": ["param eval.heldout_mutants new"],
    }


def project_copy(dest: Path) -> Path:
    """The project's committed files (no data, no models: as a fresh clone has them)."""
    files = run(ROOT, "git", "ls-files").stdout.split()
    for rel in files:
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git_repo(dest)
    return dest


def test_a_stale_param_on_a_copy_of_the_project_fails_naming_stage_and_command(
    tmp_path: Path,
) -> None:
    repo = project_copy(tmp_path / "repo")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["rubric"]["loop_penalty"] += 1.0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    metrics = repo / "metrics" / "heldout.json"
    metrics.write_text(metrics.read_text().replace('"tasks": ', '"tasks": 1'))  # a hand edit

    proc = gate(repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "stale since dvc.lock was written" in proc.stderr
    lines = {line.split(":")[0].strip(): line for line in proc.stderr.splitlines()}
    assert "param rubric modified" in lines["pair"]  # pair lists the whole rubric section
    assert "out metrics/heldout.json modified" in lines["heldout"]
    assert "refresh: make repro && make results" in proc.stderr


def test_the_gate_passes_when_fresh_and_fails_after_an_edit_to_code_or_readme(
    tmp_path: Path,
) -> None:
    """A tiny DVC project with the project's README and metrics: fresh after `dvc repro`."""
    repo = tmp_path / "tiny"
    (repo / "metrics").mkdir(parents=True)
    (repo / "benchmarks" / "results").mkdir(parents=True)
    for rel in ("README.md", "metrics/eval.json", "benchmarks/results/seeds.json"):
        shutil.copy(ROOT / rel, repo / rel)
    assert run(repo, sys.executable, str(ROOT / "scripts" / "results.py")).returncode == 0
    (repo / "step.py").write_text("open('out.txt', 'w').write('1')\n")
    (repo / "dvc.yaml").write_text(
        "stages:\n  step:\n    cmd: python step.py\n    deps: [step.py]\n    outs: [out.txt]\n"
    )
    git_repo(repo)
    assert run(repo, sys.executable, "-m", "dvc", "init", "-q").returncode == 0
    assert run(repo, sys.executable, "-m", "dvc", "repro", "-q").returncode == 0

    proc = gate(repo)
    assert proc.returncode == 0, proc.stderr
    assert "come from this code" in proc.stdout

    (repo / "step.py").write_text("open('out.txt', 'w').write('2')\n")
    proc = gate(repo)
    assert proc.returncode == 1
    assert "1 stage(s) stale since dvc.lock was written: step" in proc.stderr
    assert "  step: dep step.py modified" in proc.stderr

    readme = repo / "README.md"
    readme.write_text(readme.read_text().replace("<!-- results:end -->", "x\n<!-- results:end -->"))
    proc = gate(repo)
    assert "README.md: the results block differs from metrics/eval.json" in proc.stderr
