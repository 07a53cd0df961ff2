"""The DVC pipeline end to end on a tiny config, in a temporary git + DVC repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from import_graph import stage_names

from repo_agent.pipeline import paths
from repo_agent.runtime.sandbox import sandbox_problem
from repo_agent.traces import read_trace

ROOT = Path(__file__).resolve().parents[2]
MODELS = ["base", "sft", "dpo"]  # the tiny config's eval.models (no eval.grammar: see below)
STAGES = stage_names(MODELS)
EVALS = {f"eval@{m}" for m in MODELS}
# metrics/eval.json: one block per model plus the paired differences between them.
EVAL_BLOCKS = {*MODELS, "sft_to_dpo", "base_to_dpo", "base_to_sft"}

pytestmark = pytest.mark.slow


def tiny_params() -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["suite"].update(names=["builtin"], max_tasks=6)
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
    params["finetune"]["threads"] = 1  # the tiny model; the other test worker has the other core
    params["finetune"]["sft"].update(epochs=1, batch_size=4)
    params["finetune"]["dpo"].update(epochs=1, batch_size=4)
    params["eval"].update(samples=1, heldout_mutants=1)
    params["onpolicy"]["rollouts"] = 1
    params["eval"]["models"] = MODELS
    params["eval"]["grammar"] = []  # one experiment adds a constrained arm (test below)
    # The hf student's tests run sandboxed where bubblewrap works; elsewhere the tiny pipeline
    # accepts unisolated runs explicitly (the rollout stage refuses `auto` without bwrap).
    params["agent"]["sandbox"] = "auto" if sandbox_problem() is None else "none"
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
    stages = [*STAGES, *(f"eval_grammar@{m}" for m in MODELS)]  # those once eval.grammar is set
    return {s for s in stages if f"Running stage '{s}'" in output}


def reran(output: str) -> set[str]:
    """The stages that ran, the report counted as run when DVC skipped it because the eval
    traces it reads came out byte-identical (the tiny model's few outputs often do)."""
    unchanged = (
        "Stage 'report' didn't change, skipping" in output or "Stage 'report' is cached" in output
    )
    return ran(output) | ({"report"} if unchanged else set())


def experiments(table: list[dict]) -> list[dict]:
    """The experiment entries of `dvc exp show --json` (each with its params and metrics)."""
    out = []
    for baseline in table:
        for exp in baseline.get("experiments") or []:
            out += [rev for rev in exp.get("revs", []) if rev.get("data")]
    return out


def param(entry: dict, *keys: str) -> object:
    value = entry["data"]["params"]["params.yaml"]["data"]
    for key in keys:
        value = value[key]
    return value


def back_to_baseline(repo: Path) -> None:
    """Back to the committed baseline (experiments leave their results in the workspace)."""
    sh(repo, "git", "checkout", "--", ".")
    sh(repo, "dvc", "checkout", "--force")


def copy_project(repo: Path) -> None:
    """The pipeline's code into `repo`: dvc.yaml and the package."""
    for name in ("dvc.yaml", "src"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, repo / name)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("pipeline") / "repo"
    repo.mkdir()
    copy_project(repo)
    (repo / "params.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    sh(repo, "git", "init", "-q")
    sh(repo, "dvc", "init", "-q")
    shutil.copy(ROOT / ".dvcignore", repo / ".dvcignore")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "init")
    out = sh(repo, "dvc", "repro")
    assert ran(out) == set(STAGES)
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "repro")
    return repo


def test_repro_writes_every_declared_output(repo: Path) -> None:
    for p in (
        paths.ROLLOUT / "teacher.jsonl",
        paths.EXTRACT / "rows.jsonl",
        paths.PAIR / "pairs.jsonl",
        paths.SPLIT_TRAIN / "sft.jsonl",
        paths.SPLIT_TASKS,
        paths.MODELS_SFT / "config.json",
        paths.MODELS_DPO / "config.json",
        paths.MODELS_TEACHER / paths.TEACHER_POLICY_FILE,
        paths.LIVE / "sft" / "metrics.json",
        paths.REPORTS / "dpo_curve.png",
        paths.eval_trace("dpo"),
        paths.REPORTS / "eval.md",
        paths.REPORTS / "eval_metrics.png",
    ):
        assert (repo / p).exists(), p
    metrics = json.loads((repo / "metrics/eval.json").read_text())
    assert set(metrics) == EVAL_BLOCKS
    assert all(isinstance(v, int | float) for block in metrics.values() for v in block.values())
    split = json.loads((repo / paths.SPLIT_TASKS).read_text())
    train_rows = (repo / paths.SPLIT_TRAIN / "sft.jsonl").read_text()
    assert split["heldout"] and not any(f'"{t}' in train_rows for t in split["heldout"])


def test_loop_penalty_experiment_retrains_dpo_only(repo: Path) -> None:
    """A rubric param reruns the pairing and what follows, never the runs or SFT. (From the
    default 1.5, a loop penalty of 1 drops the repeat pairs the tiny config has; 2 keeps the
    same pairs there, and then DVC rightly skips DPO.)"""
    out = sh(repo, "dvc", "exp", "run", "-S", "rubric.loop_penalty=1", "-n", "loop2")
    want = {"pair", "split", "dpo_pairs", "finetune@dpo", "eval@dpo", "report"}
    assert reran(out) == want, out[-3000:]
    for stage in ("rollout", "extract", "finetune@sft", "eval@base", "eval@sft"):
        assert f"Stage '{stage}' didn't change, skipping" in out
    diff = sh(repo, "dvc", "metrics", "diff", "--all", "HEAD", "loop2")
    assert "dpo.parse_error_rate" in diff
    assert "metrics/pair.json" in diff


def test_eval_samples_rerun_only_the_evals_and_the_report(repo: Path) -> None:
    out = sh(repo, "dvc", "exp", "run", "-S", "eval.samples=2", "-n", "samples2")
    assert ran(out) == {*EVALS, "report"}, out[-3000:]
    metrics = json.loads((repo / "metrics/eval.json").read_text())
    heldout = json.loads((repo / paths.HELDOUT_TASKS).read_text())
    assert heldout["mutants"] and set(heldout["programs"]) == set(
        json.loads((repo / paths.SPLIT_TASKS).read_text())["heldout"]
    )
    assert metrics["base"]["runs"] == 3 * len(heldout["tasks"])  # greedy + 2 samples per task


def test_dpo_beta_retrains_neither_sft_nor_the_other_evals(repo: Path) -> None:
    out = sh(repo, "dvc", "exp", "run", "-S", "finetune.dpo.beta=0.2", "-n", "beta02")
    assert reran(out) == {"finetune@dpo", "eval@dpo", "report"}, out[-3000:]


def test_a_report_param_reruns_only_the_report(repo: Path) -> None:
    out = sh(repo, "dvc", "exp", "run", "-S", "eval.bootstrap_samples=321", "-n", "boot")
    assert ran(out) == {"report"}, out[-3000:]


def test_training_metrics_are_experiment_columns(repo: Path) -> None:
    table = json.loads(sh(repo, "dvc", "exp", "show", "--json"))
    for entry in [table[0], *experiments(table)]:  # the workspace and every experiment
        metrics = entry["data"]["metrics"]
        for name in ("dvclive/sft/metrics.json", "dvclive/dpo/metrics.json"):
            assert "loss" in metrics[name]["data"], (name, entry["name"])
        assert set(metrics["metrics/eval.json"]["data"]) == EVAL_BLOCKS


def test_agent_code_change_reruns_eval_but_not_training(repo: Path) -> None:
    """Deps cover the code a stage runs: an agent-loop change reruns the stages that depend on
    the runtime folder (rollout resumes from its traces, pair and dpo_pairs replay states, the
    on-policy runs) and the evals, never SFT or heldout (which imports a few runtime modules,
    not the loop); DPO and the report rerun only when their inputs came out different."""
    agent = repo / "src/repo_agent/runtime/agent.py"
    before = agent.read_text()
    agent.write_text(before + "\n# a change to the agent loop\n")
    try:
        out = sh(repo, "dvc", "exp", "run", "-n", "agent-change")
    finally:
        agent.write_text(before)
    loop = {"rollout", "pair", "onpolicy", "dpo_pairs", *EVALS}
    assert loop <= ran(out) <= {*loop, "finetune@dpo", "report"}
    assert "Stage 'finetune@sft' didn't change, skipping" in out


def test_a_queued_sweep_runs_and_both_rows_show(repo: Path) -> None:
    sh(repo, "dvc", "exp", "run", "--queue", "-S", "eval.bootstrap_samples=211,223")
    sh(repo, "dvc", "queue", "start", "-j", "1")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = sh(repo, "dvc", "queue", "status")
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    assert "Failed" not in status, status
    table = json.loads(sh(repo, "dvc", "exp", "show", "--json"))
    rows = {param(e, "eval", "bootstrap_samples"): e for e in experiments(table)}
    assert {211, 223} <= set(rows), sorted(rows)
    for value in (211, 223):
        metrics = rows[value]["data"]["metrics"]["metrics/eval.json"]["data"]
        assert set(metrics) == EVAL_BLOCKS


def test_a_grammar_arm_runs_its_own_eval_and_the_report(repo: Path) -> None:
    back_to_baseline(repo)  # earlier experiments left their outputs in the workspace
    out = sh(repo, "dvc", "exp", "run", "-S", "eval.grammar=[dpo]", "-n", "grammar")
    assert ran(out) == {"eval_grammar@dpo", "report"}, out[-3000:]
    metrics = json.loads((repo / "metrics/eval.json").read_text())
    assert {"dpo+grammar", "dpo_to_dpo+grammar"} <= set(metrics)
    # Under the grammar a reply fails to parse only when the (tiny: 24) token budget cut it.
    steps = read_trace(repo / paths.eval_trace("dpo+grammar")).steps
    assert steps and {s.parse_error for s in steps} <= {None, "truncated"}
    report = (repo / paths.REPORTS / "eval.md").read_text()
    assert "## Fine-tuning vs constrained decoding" in report
    back_to_baseline(repo)


def test_a_clone_pulls_the_results_instead_of_recomputing(repo: Path, tmp_path: Path) -> None:
    back_to_baseline(repo)
    remote = tmp_path / "remote"
    sh(repo, "dvc", "remote", "add", "-d", "shared", str(remote))
    sh(repo, "git", "add", ".dvc/config")
    sh(repo, "git", "commit", "-qm", "a shared remote")
    sh(repo, "dvc", "push")
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    sh(clone, "dvc", "pull")
    assert "Data and pipelines are up to date" in sh(clone, "dvc", "status")
    assert ran(sh(clone, "dvc", "repro")) == set()
    for rel in ("metrics/eval.json", "models/dpo/model.safetensors", "data/split/tasks.json"):
        assert (clone / rel).read_bytes() == (repo / rel).read_bytes(), rel


def test_unknown_param_key_fails_with_its_name(repo: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["rubric"]["loop_penalti"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "repo_agent.pipeline.pair"],
            cwd=repo,
            capture_output=True,
            text=True,
            env=_env(repo.parent),
        )
    finally:
        sh(repo, "git", "checkout", "params.yaml")
    assert proc.returncode == 2
    assert "rubric.loop_penalti" in proc.stderr


def lock_outs(repo: Path) -> dict[str, str]:
    """Every out of dvc.lock (path -> md5), over all stages."""
    lock = yaml.safe_load(sh(repo, "git", "show", "HEAD:dvc.lock"))
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
    }


# Outs that record wall-clock time (run durations, training runtime) besides their data.
TIMED = {"data/rollout", "data/onpolicy", "dvclive/sft/metrics.json", "dvclive/dpo/metrics.json"}
TIMED |= {f"data/eval/{m}.jsonl" for m in MODELS} | {"reports/eval.md", "reports/eval.html"}
TIMED |= {"metrics/eval.json", "plots/eval_metrics.csv", "reports/eval_metrics.png"}


def test_the_same_commit_repros_byte_identical(repo: Path, tmp_path: Path) -> None:
    """A second `dvc repro` of the same commit and params on this machine, in a fresh clone,
    writes byte-identical data and models (only outs that record wall-clock time may differ)."""
    clone = tmp_path / "again"
    sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    sh(clone, "dvc", "repro")
    first, second = lock_outs(repo), lock_outs(clone)
    assert first.keys() == second.keys()
    differ = {p for p in first if first[p] != second[p]}
    assert differ <= TIMED, sorted(differ - TIMED)
    for data in ("data/extract", "data/pair", "data/split", "data/dpo_pairs", "models/sft"):
        assert first[data] == second[data], data
