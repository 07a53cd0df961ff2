"""dvc.yaml and the package agree on stages, step modules and paths, and its generated code
deps are current."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from import_graph import ROOT, dvc_stages, stage_names

from repo_agent.pipeline import paths

# The six steps of the design, as DVC names them (foreach stages expanded), plus the report.
STAGES = stage_names(["base", "sft", "dpo", "teacher"], ["base", "sft", "dpo"])


@pytest.fixture(scope="module")
def stages() -> dict[str, dict[str, object]]:
    return dvc_stages()


def test_the_stages_in_order(stages: dict[str, dict[str, object]]) -> None:
    assert list(stages) == STAGES


def test_dvc_yaml_declares_the_paths_the_package_writes(
    stages: dict[str, dict[str, object]],
) -> None:
    outs = {o for s in stages.values() for o in s["outs"]}  # type: ignore[attr-defined]
    for p in (
        paths.ROLLOUT,
        paths.MODELS_BASE,
        paths.MODELS_TEACHER,
        paths.MUTANTS,
        paths.EXTRACT,
        paths.PAIR,
        paths.SPLIT,
        paths.MODELS_SFT,
        paths.MODELS_DPO,
        paths.MODELS_REMOTE / "sft",
        paths.LIVE / "dpo" / "metrics.json",
        paths.eval_trace("teacher"),
        paths.eval_trace("dpo+grammar"),
        paths.METRICS / "eval.json",
    ):
        assert str(p) in outs, p


def test_each_stage_runs_the_main_of_its_step_module(stages: dict[str, dict[str, object]]) -> None:
    for name, stage in stages.items():
        step, _, item = name.partition("@")
        module = f"repo_agent.pipeline.{step.removesuffix('_grammar')}"
        assert stage["module"] == module
        assert callable(importlib.import_module(module).main)
        assert f"src/repo_agent/pipeline/{module.rsplit('.', 1)[1]}.py" in stage["deps"]  # type: ignore[operator]
        if item:
            arm = f"{item}+grammar" if step == "eval_grammar" else item
            assert str(stage["cmd"]).endswith(" " + arm)


SCRIPT = ROOT / "scripts" / "dvc_yaml.py"


def test_the_generated_code_deps_are_current() -> None:
    check = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_the_check_fails_on_a_stale_dep_and_make_dvc_yaml_mends_it(tmp_path: Path) -> None:
    stale = tmp_path / "dvc.yaml"
    text = (ROOT / "dvc.yaml").read_text(encoding="utf-8")
    stale.write_text(text.replace("      - src/repo_agent/pipeline/pair.py\n", "", 1))
    assert stale.read_text() != text
    run = [sys.executable, str(SCRIPT), "--file", str(stale)]
    check = subprocess.run([*run, "--check"], capture_output=True, text=True)
    assert check.returncode == 1 and "make dvc-yaml" in check.stderr
    assert subprocess.run(run).returncode == 0
    assert stale.read_text() == text
