"""How the eval stage serves each model: local weights, or the remote fine-tuned name."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from repo_agent.pipeline import paths
from repo_agent.pipeline.eval import model_policy_config, run_eval
from repo_agent.pipeline.params import Params


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_local_models_are_the_stage_directories(in_tmp: Path) -> None:
    params = Params()
    assert model_policy_config(params, "base").model == str(paths.MODELS_BASE)
    sft = model_policy_config(params, "sft")
    assert (sft.kind, sft.model) == ("hf", str(paths.MODELS_SFT))
    assert model_policy_config(params, "dpo").model == str(paths.MODELS_DPO)
    teacher = model_policy_config(params, "teacher")
    assert teacher.kind == "oracle" and teacher.explore == 0.0


def test_remote_fine_tunes_are_served_by_their_provider(in_tmp: Path) -> None:
    params = Params.model_validate(
        {"student": {"kind": "together", "model": "Qwen/Qwen2.5-7B-Instruct-Turbo"}}
    )
    paths.MODELS_DPO.mkdir(parents=True)
    (paths.MODELS_DPO / paths.REMOTE_MODEL_FILE).write_text(
        json.dumps({"provider": "together", "model": "me/Qwen2.5-7B-dpo-abc", "job_id": "ft-1"})
    )
    dpo = model_policy_config(params, "dpo")
    assert (dpo.kind, dpo.model) == ("together", "me/Qwen2.5-7B-dpo-abc")
    base = model_policy_config(params, "base")
    assert (base.kind, base.model) == ("together", "Qwen/Qwen2.5-7B-Instruct-Turbo")
    assert dpo.cache_dir == str(paths.CACHE_EVAL / "dpo")  # each eval@model caches its own


def test_an_unknown_model_is_refused(in_tmp: Path) -> None:
    for arm in ("large", "large+grammar", "sft+json"):
        with pytest.raises(ValueError, match=f"unknown eval arm '{re.escape(arm)}'"):
            run_eval(Params(), arm)


def test_a_grammar_arm_is_its_model_constrained_with_its_own_cache(in_tmp: Path) -> None:
    params = Params()
    for model in ("base", "sft", "dpo"):
        free = model_policy_config(params, model)
        arm = model_policy_config(params, f"{model}+grammar")
        assert arm.constrain == "json_schema" and free.constrain == "none"
        assert arm.model_dump(exclude={"constrain", "cache_dir"}) == free.model_dump(
            exclude={"constrain", "cache_dir"}
        )
        assert arm.cache_dir == str(paths.CACHE_EVAL / f"{model}+grammar")
    with pytest.raises(ValueError, match="oracle"):
        model_policy_config(params, "teacher+grammar")


def test_grammar_arms_are_listed_apart_from_the_models() -> None:
    ev = Params.model_validate({"eval": {"grammar": ["sft", "dpo"]}}).eval
    assert ev.arms() == ["base", "sft", "dpo", "teacher", "sft+grammar", "dpo+grammar"]
    with pytest.raises(ValueError, match=r"eval.grammar: \[sft\]"):
        Params.model_validate({"eval": {"models": ["base", "sft+grammar"]}})
    with pytest.raises(ValueError, match="oracle teacher"):
        Params.model_validate({"eval": {"grammar": ["teacher"]}})
