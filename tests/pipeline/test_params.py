"""Typed params: params.yaml round trips; unknown keys and wrong types name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from repo_agent.pipeline.params import Params, ParamsError, load_params, parse_params

ROOT = Path(__file__).resolve().parents[2]
PARAMS_YAML = ROOT / "params.yaml"


def key_paths(obj: Any, prefix: str = "") -> set[str]:
    if not isinstance(obj, dict):
        return set()
    out = set()
    for k, v in obj.items():
        out.add(prefix + k)
        out |= key_paths(v, f"{prefix}{k}.")
    return out


def test_default_params_round_trip_through_yaml(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(Params().model_dump(mode="json"), sort_keys=False))
    assert load_params(path) == Params()


def test_the_projects_params_yaml_loads() -> None:
    p = load_params(PARAMS_YAML)
    assert p.teacher.kind == "oracle"
    assert p.student.kind == "hf" and p.agent.tool_protocol == "json"
    assert 0 < p.split.heldout_fraction < 1


def test_the_projects_params_yaml_names_every_key() -> None:
    raw = yaml.safe_load(PARAMS_YAML.read_text(encoding="utf-8"))
    assert key_paths(raw) == key_paths(Params().model_dump(mode="json"))


def test_the_projects_params_yaml_round_trips(tmp_path: Path) -> None:
    p = load_params(PARAMS_YAML)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p.model_dump(mode="json"), sort_keys=False))
    assert load_params(path) == p


def test_empty_params_are_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("")
    assert load_params(path) == Params()
    assert parse_params(None) == parse_params({}) == Params()


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"rubrik": {}}, "rubrik"),
        ({"rubric": {"loop_penalti": 2}}, "rubric.loop_penalti"),
        ({"finetune": {"sft": {"epochz": 1}}}, "finetune.sft.epochz"),
        ({"finetune": {"remote": {"n_epoch": 1}}}, "finetune.remote.n_epoch"),
        ({"agent": {"max_step": 3}}, "agent.max_step"),
        ({"student": {"build": {"layers": 3}}}, "student.build.layers"),
        ({"teacher": {"modle": "x"}}, "teacher.modle"),
    ],
)
def test_unknown_keys_are_errors_naming_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ParamsError, match=f"unknown key '{key}'"):
        parse_params(raw)


def test_unknown_key_in_a_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    raw = yaml.safe_load(PARAMS_YAML.read_text(encoding="utf-8"))
    raw["rubric"]["loop_penalti"] = 2
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError) as info:
        load_params(path)
    assert str(path) in str(info.value)
    assert "unknown key 'rubric.loop_penalti'" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"rubric": {"loop_penalty": "high"}}, "rubric.loop_penalty"),
        ({"rubric": {"min_margin": -1}}, "rubric.min_margin"),
        ({"finetune": {"sft": {"batch_size": 0}}}, "finetune.sft.batch_size"),
        ({"split": {"heldout_fraction": 1.0}}, "split.heldout_fraction"),
        ({"pair": {"corruptions": ["broken_json", "typo"]}}, "pair.corruptions.1"),
        ({"eval": {"models": ["base", "gpt"]}}, "eval.models.1"),
        ({"agent": {"tool_protocol": "xml"}}, "agent.tool_protocol"),
        ({"suite": {"names": "builtin"}}, "suite.names"),
        ({"rubric": []}, "rubric"),
    ],
)
def test_wrong_types_are_errors_naming_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ParamsError, match=f"'{key}':"):
        parse_params(raw)


def test_every_bad_key_is_named() -> None:
    with pytest.raises(ParamsError) as info:
        parse_params({"rubric": {"loop_penalti": 1, "min_margin": "x"}, "bogus": 1})
    msg = str(info.value)
    assert "'rubric.loop_penalti'" in msg and "'rubric.min_margin'" in msg and "'bogus'" in msg


def test_hf_student_with_native_protocol_is_rejected() -> None:
    with pytest.raises(ParamsError, match="tool_protocol json only"):
        parse_params({"agent": {"tool_protocol": "native"}})
    with pytest.raises(ParamsError, match="tool_protocol json only"):
        parse_params({"student": {"kind": "hf"}, "agent": {"tool_protocol": "native"}})


def test_api_student_may_use_the_native_protocol() -> None:
    p = parse_params(
        {"student": {"kind": "openai", "model": "m"}, "agent": {"tool_protocol": "native"}}
    )
    assert p.agent.tool_protocol == "native"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "params.yaml")


def test_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("rubric: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(path)


def test_a_top_level_list_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ParamsError):
        load_params(path)


def test_defaults_are_consistent() -> None:
    p = Params()
    assert p.teacher.kind == "oracle" and p.teacher.explore == 0.3
    assert p.rubric.loop_penalty == 1.0 and p.rubric.min_margin == 1.5
    assert set(p.pair.corruptions) == {
        "broken_json",
        "unknown_tool",
        "missing_arg",
        "exact_repeat",
        "tiny_reread",
        "repeated_grep",
        "premature_final",
        "write_before_read",
    }
