"""dvc.yaml and the package agree on stages, scripts and paths."""

from __future__ import annotations

from pathlib import Path

import yaml

from repo_agent.pipeline import paths

ROOT = Path(__file__).resolve().parents[2]
STAGES = ["rollout", "extract", "pair", "split", "finetune", "eval"]


def test_dvc_yaml_declares_the_paths_the_package_writes() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert list(stages) == STAGES
    outs = {
        next(iter(o)) if isinstance(o, dict) else o
        for s in stages.values()
        for o in s.get("outs", [])
    }
    for p in (
        paths.TRACES,
        paths.MODELS_BASE,
        paths.MUTANTS,
        paths.SFT,
        paths.PAIRS,
        paths.SPLIT,
        paths.MODELS_SFT,
        paths.MODELS_DPO,
        paths.EVAL_TRACES,
    ):
        assert str(p) in outs, p
    for name, stage in stages.items():
        assert stage["cmd"] == f"python stages/{name}.py"
        assert f"stages/{name}.py" in stage["deps"]
