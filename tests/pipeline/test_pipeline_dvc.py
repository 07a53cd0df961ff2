"""The DVC pipeline end to end on a tiny config, in a temporary git + DVC repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from repo_agent.pipeline import paths

ROOT = Path(__file__).resolve().parents[2]
STAGES = ["rollout", "extract", "pair", "split", "finetune", "eval"]

pytestmark = pytest.mark.slow


def tiny_params() -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["suite"]["max_tasks"] = 6
    params["rollout"]["teacher_rollouts"] = 1
    params["student"]["build"].update(
        vocab_size=400,
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=64,
    )
    params["student"]["max_new_tokens"] = 24
    params["pair"]["corruptions_per_step"] = 8
    params["finetune"]["sft"].update(epochs=1, batch_size=4)
    params["finetune"]["dpo"].update(epochs=1, batch_size=4)
    params["eval"]["rollouts"] = 1
    params["eval"]["models"] = ["base", "sft", "dpo"]
    return params


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(tmp / "dvc-site"),
        DVC_GLOBAL_CONFIG_DIR=str(tmp / "dvc-global"),
        DVC_SYSTEM_CONFIG_DIR=str(tmp / "dvc-system"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    return env


def sh(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        args, cwd=repo, env=_env(repo.parent), capture_output=True, text=True, timeout=900
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{out[-4000:]}"
    return out


def ran(output: str) -> set[str]:
    return {s for s in STAGES if f"Running stage '{s}'" in output}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("pipeline") / "repo"
    repo.mkdir()
    for name in ("dvc.yaml", "stages", "src"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, repo / name)
    (repo / "params.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    sh(repo, "git", "init", "-q")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "init")
    out = sh(repo, "dvc", "repro")
    assert ran(out) == set(STAGES)
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "repro")
    return repo


def test_repro_writes_every_declared_output(repo: Path) -> None:
    for p in (
        paths.TRACES / "teacher.jsonl",
        paths.SFT / "rows.jsonl",
        paths.PAIRS / "pairs.jsonl",
        paths.SPLIT_TRAIN / "sft.jsonl",
        paths.SPLIT_TASKS,
        paths.MODELS_SFT / "config.json",
        paths.MODELS_DPO / "config.json",
        paths.REPORTS / "eval.md",
        paths.REPORTS / "eval_metrics.png",
    ):
        assert (repo / p).exists(), p
    metrics = json.loads((repo / "metrics/eval.json").read_text())
    assert set(metrics) == {"base", "sft", "dpo"}
    assert all(isinstance(v, int | float) for block in metrics.values() for v in block.values())
    split = json.loads((repo / paths.SPLIT_TASKS).read_text())
    train_rows = (repo / paths.SPLIT_TRAIN / "sft.jsonl").read_text()
    assert split["heldout"] and not any(f'"{t}' in train_rows for t in split["heldout"])


def test_loop_penalty_experiment_reruns_pair_and_after_only(repo: Path) -> None:
    out = sh(repo, "dvc", "exp", "run", "-S", "rubric.loop_penalty=2", "-n", "loop2")
    assert ran(out) == {"pair", "split", "finetune", "eval"}, out[-3000:]
    assert "Stage 'rollout' didn't change, skipping" in out
    assert "Stage 'extract' didn't change, skipping" in out
    diff = sh(repo, "dvc", "metrics", "diff", "--all", "HEAD", "loop2")
    assert "dpo.parse_error_rate" in diff
    assert "metrics/pairs.json" in diff


def test_eval_param_change_reruns_only_eval(repo: Path) -> None:
    out = sh(repo, "dvc", "exp", "run", "-S", "eval.bootstrap_samples=321", "-n", "boot")
    assert ran(out) == {"eval"}, out[-3000:]


def test_agent_code_change_reruns_eval_but_not_training(repo: Path) -> None:
    """Deps cover the code a stage runs: an agent-loop change reruns the stages that run the
    loop (rollout resumes from its traces, pair replays states) and eval, never finetune."""
    agent = repo / "src/repo_agent/runtime/agent.py"
    before = agent.read_text()
    agent.write_text(before + "\n# a change to the agent loop\n")
    try:
        out = sh(repo, "dvc", "exp", "run", "-n", "agent-change")
    finally:
        agent.write_text(before)
    assert ran(out) == {"rollout", "pair", "eval"}, out[-3000:]
    assert "Stage 'finetune' didn't change, skipping" in out


def test_unknown_param_key_fails_with_its_name(repo: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["rubric"]["loop_penalti"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        proc = subprocess.run(
            [sys.executable, "stages/pair.py"],
            cwd=repo,
            capture_output=True,
            text=True,
            env=_env(repo.parent),
        )
    finally:
        sh(repo, "git", "checkout", "params.yaml")
    assert proc.returncode == 2
    assert "rubric.loop_penalti" in proc.stderr
