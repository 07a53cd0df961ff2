"""Typed params: params.yaml round trips; unknown keys and wrong types name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from repo_agent.data.config import RubricParams
from repo_agent.pipeline.params import Params, ParamsError, load_params, parse_params
from repo_agent.training.config import FinetuneParams, StudentBuild

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
        ({"teacher": {"dtype": "auto"}}, "teacher.dtype"),  # a key of another kind
        ({"student": {"kind": "together", "build": {}}}, "student.build"),
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


def test_params_yaml_is_the_code_defaults() -> None:
    """One source of defaults: the committed params.yaml sets every key to its code default, so
    the CLI (which takes the code defaults) and the pipeline agree."""
    assert load_params(PARAMS_YAML) == Params()


# --- ranges, strict types, repeated keys (issue 11) ------------------------------------------


def params_file(tmp_path: Path, key: str, value: object) -> Path:
    """The committed params.yaml with the dotted `key` set to `value`, written as YAML."""
    raw = yaml.safe_load(PARAMS_YAML.read_text(encoding="utf-8"))
    *parents, last = key.split(".")
    section = raw
    for name in parents:
        section = section[name]
    section[last] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


REFUSED = [
    # ranges
    ("finetune.lora_r", 0, "finetune.lora_r", "greater than or equal to 1"),
    ("finetune.lora_r", -16, "finetune.lora_r", "greater than or equal to 1"),
    ("student.build.num_kv_heads", 8, "student.build.num_kv_heads", "does not divide num_heads"),
    ("student.build.num_kv_heads", 3, "student.build.num_kv_heads", "does not divide num_heads"),
    ("student.build.hidden_size", 130, "student.build.num_heads", "must split hidden_size"),
    ("student.build.hidden_size", 36, "student.build.num_heads", "heads of an even size"),
    ("finetune.sft.learning_rate", 5, "finetune.sft.learning_rate", "less than or equal to 1"),
    ("finetune.seed", -1, "finetune.seed", "greater than or equal to 0"),
    ("eval.seed", 2**32, "eval.seed", "less than 4294967296"),
    ("teacher.explore", 1.5, "teacher.explore", "less than or equal to 1"),
    ("finetune.remote.retry_max_s", 0.5, "finetune.remote", "below retry_base_s (1.0)"),
    # inf and nan
    ("finetune.sft.learning_rate", float("inf"), "finetune.sft.learning_rate", "finite number"),
    ("finetune.dpo.learning_rate", float("inf"), "finetune.dpo.learning_rate", "finite number"),
    ("finetune.sft.epochs", float("inf"), "finetune.sft.epochs", "finite number"),
    ("finetune.dpo.epochs", float("nan"), "finetune.dpo.epochs", "finite number"),
    ("finetune.dpo.beta", float("nan"), "finetune.dpo.beta", "finite number"),
    ("finetune.remote.learning_rate", float("inf"), "finetune.remote.learning_rate", "finite"),
    ("agent.max_wall_s", float("inf"), "agent.max_wall_s", "finite number"),
    # lists: empty or repeating
    ("eval.models", [], "eval.models", "at least 1 item"),
    ("eval.models", ["base", "sft", "base"], "eval.models", "'base' given more than once"),
    ("suite.names", ["builtin", "builtin"], "suite.names", "'builtin' given more than once"),
    ("suite.tasks", ["a_gcd_lcm", "a_gcd_lcm"], "suite.tasks", "given more than once"),
    ("pair.corruptions", ["broken_json"] * 2, "pair.corruptions", "given more than once"),
    # strict types: nothing is coerced
    ("rollout.teacher_rollouts", "10", "rollout.teacher_rollouts", "valid integer"),
    ("eval.samples", True, "eval.samples", "valid integer"),
    ("finetune.threads", 2.0, "finetune.threads", "valid integer"),
    ("finetune.lora", "yes", "finetune.lora", "valid boolean"),
    ("extract.dedupe", 1, "extract.dedupe", "valid boolean"),
    ("rubric.loop_penalty", "1.5", "rubric.loop_penalty", "valid number"),
    ("rubric.min_margin", True, "rubric.min_margin", "valid number"),
    ("student.temperature", "0", "student.temperature", "valid number"),
    ("finetune.remote.batch_size", "8", "finetune.remote.batch_size", "valid integer"),
    ("suite.max_tasks", True, "suite.max_tasks", "valid integer"),
]


@pytest.mark.parametrize(("key", "value", "named", "why"), REFUSED)
def test_a_hostile_value_is_an_error_naming_the_key(
    tmp_path: Path, key: str, value: object, named: str, why: str
) -> None:
    path = params_file(tmp_path, key, value)
    with pytest.raises(ParamsError) as info:
        load_params(path)
    assert f"'{named}': " in str(info.value) and why in str(info.value)


def test_a_key_given_twice_is_an_error_naming_it_and_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    text = PARAMS_YAML.read_text(encoding="utf-8")
    path.write_text(text + "eval:\n  samples: 5\n")
    with pytest.raises(ParamsError, match="duplicate key 'eval' on line") as info:
        load_params(path)
    first = text.splitlines().index("eval:") + 1
    assert f"(first on line {first})" in str(info.value) and str(path) in str(info.value)


def test_a_nested_key_given_twice_is_an_error_naming_its_path(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    text = PARAMS_YAML.read_text(encoding="utf-8")
    assert text.count("\n  lora_r: 16\n") == 1
    path.write_text(text.replace("\n  lora_r: 16\n", "\n  lora_r: 16\n  lora_r: 64\n"))
    with pytest.raises(ParamsError, match="duplicate key 'finetune.lora_r'"):
        load_params(path)


def test_numbers_are_numbers_where_a_number_is_expected(tmp_path: Path) -> None:
    """An int is a valid float; YAML's `1e-5` (no dot, as DVC writes it) is a float too."""
    assert load_params(params_file(tmp_path, "rubric.loop_penalty", 2)).rubric.loop_penalty == 2.0
    path = tmp_path / "params.yaml"
    text = PARAMS_YAML.read_text(encoding="utf-8").replace(
        "learning_rate: 3.0e-05", "learning_rate: 1e-5"
    )
    path.write_text(text)
    assert load_params(path).finetune.dpo.learning_rate == 1e-5


def test_params_as_dvc_rewrites_them_load(tmp_path: Path) -> None:
    """`dvc exp run -S` writes params.yaml with ruamel (YAML 1.2: `1e-05`, not `1.0e-05`)."""
    ruamel = pytest.importorskip("ruamel.yaml")
    raw = yaml.safe_load(PARAMS_YAML.read_text(encoding="utf-8"))
    raw["finetune"]["sft"]["learning_rate"] = 1e-5
    raw["finetune"]["remote"]["learning_rate"] = 2e-6
    path = tmp_path / "params.yaml"
    with path.open("w", encoding="utf-8") as fh:
        ruamel.YAML().dump(raw, fh)
    assert "1e-05" in path.read_text(encoding="utf-8")
    p = load_params(path)
    assert (p.finetune.sft.learning_rate, p.finetune.remote.learning_rate) == (1e-5, 2e-6)


# The tiny config of the DVC end-to-end test and the `-S` overrides it and the README run.
OVERRIDES = [
    ("rubric.loop_penalty", 1),
    ("rubric.loop_penalty", 4),
    ("eval.samples", 3),
    ("finetune.dpo.beta", 0.2),
    ("eval.bootstrap_samples", 211),
    ("suite.names", ["builtin", "mutants"]),
    ("finetune.seed", 7),
]


@pytest.mark.parametrize(("key", "value"), OVERRIDES)
def test_the_test_configs_still_load(tmp_path: Path, key: str, value: object) -> None:
    from test_pipeline_dvc import tiny_params

    raw = tiny_params()
    *parents, last = key.split(".")
    section = raw
    for name in parents:
        section = section[name]
    section[last] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    p = load_params(path)
    assert p.student.build.num_heads == 2 and p.eval.models == ["base", "sft", "dpo"]


def section_models(model: type[BaseModel]) -> set[type[BaseModel]]:
    """The model and every model its fields hold, the members of a union (by kind) included."""
    out = {model}
    for field in model.model_fields.values():
        for kind in (field.annotation, *get_args(field.annotation)):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                out |= section_models(kind)
    return out


def test_every_section_is_strict() -> None:
    """A new section that forgets the ConfigModel base would coerce "10" again."""
    sections = section_models(Params)
    assert len(sections) >= 15
    for model in sections:
        assert model.model_config.get("strict") is True, model
        assert model.model_config.get("allow_inf_nan") is False, model
        assert model.model_config.get("extra") == "forbid", model


def test_configs_built_in_python_are_strict_too() -> None:
    with pytest.raises(ValidationError, match="lora_r"):
        FinetuneParams(lora_r="16")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="num_kv_heads"):
        StudentBuild(num_heads=4, num_kv_heads=8)
    assert RubricParams(loop_penalty=2).loop_penalty == 2.0
    assert StudentBuild(hidden_size=32, num_heads=2, num_kv_heads=1).num_kv_heads == 1
