"""dvc.yaml and the package agree on stages, scripts and paths."""

from __future__ import annotations

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
        paths.TRACES,
        paths.MODELS_BASE,
        paths.MODELS_TEACHER,
        paths.MUTANTS,
        paths.SFT,
        paths.PAIRS,
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


def test_each_stage_runs_its_own_script(stages: dict[str, dict[str, object]]) -> None:
    for name, stage in stages.items():
        script = f"stages/{name.split('@')[0]}.py"
        assert stage["script"] == script and (ROOT / script).is_file()
        assert script in stage["deps"]  # type: ignore[operator]
        if "@" in name:
            assert str(stage["cmd"]).endswith(" " + name.split("@")[1])
