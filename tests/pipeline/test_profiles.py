"""Params profiles: each shipped profile validates through the params models, merges into a
real params.yaml key by key, and reads back as `dvc exp run -S` options; the CLI applies one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from import_graph import ROOT
from typer.testing import CliRunner

from repo_agent.cli.app import app
from repo_agent.pipeline.params import ParamsError, load_params, parse_params
from repo_agent.pipeline.profiles import (
    apply_profile,
    load_profile,
    merged,
    profile_names,
    set_options,
)


def test_the_three_profiles_ship() -> None:
    assert profile_names() == ["full", "qwen7b-gpu", "together-download"]


def leaves(tree: dict, keys: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    """(key path, value) of every non-mapping value in a nested mapping."""
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from leaves(value, (*keys, key))
        else:
            yield (*keys, key), value


@pytest.mark.parametrize("name", ["full", "qwen7b-gpu", "together-download"])
def test_each_profile_validates_on_the_default_params(name: str) -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    profile = load_profile(name)
    params = parse_params(merged(raw, profile), name)
    # Every value the profile names is the params' value...
    dumped = params.model_dump()
    for keys, value in leaves(profile):
        got = dumped
        for key in keys:
            got = got[key]
        assert got == value, ".".join(keys)
    # ...and everything it does not name keeps its default.
    assert params.rubric == parse_params(raw).rubric


def test_apply_merges_into_params_yaml_and_refuses_a_bad_result(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    apply_profile("qwen7b-gpu", path)
    params, was = load_params(path), load_params(ROOT / "params.yaml")
    named, kept = load_profile("qwen7b-gpu")["student"], was.student.model_dump()
    for key, value in params.student.model_dump().items():
        assert value == named.get(key, kept[key]), key  # the profile's value, else params.yaml's
    before = path.read_text()
    broken = yaml.safe_load(before)
    broken["finetune"]["lora_rank"] = 8  # not a finetune key: the merge would not validate
    path.write_text(yaml.safe_dump(broken))
    before = path.read_text()
    with pytest.raises(ParamsError, match="finetune.lora_rank"):
        apply_profile("together-download", path)
    assert path.read_text() == before  # untouched


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="qwen7b-gpu, together-download"):
        load_profile("llama-70b")


@pytest.mark.parametrize("name", ["qwen7b-gpu", "together-download"])
def test_the_set_options_applied_by_dvc_give_the_same_params(name: str, tmp_path: Path) -> None:
    """The `-S` options `profile show` prints, applied by DVC's own override code (what
    `dvc exp run -S` runs), set exactly the profile's values."""
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    options = [o.removeprefix("-S ").strip("'") for o in set_options(load_profile(name))]
    apply_overrides(path, options)
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert load_params(path) == parse_params(merged(raw, load_profile(name)))


def test_cli_profile_list_show_apply(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["profile", "list"])
    assert listed.exit_code == 0 and "qwen7b-gpu" in listed.output
    shown = runner.invoke(app, ["profile", "show", "together-download"])
    assert shown.exit_code == 0 and "-S finetune.remote.serve=download" in shown.output
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    applied = runner.invoke(app, ["profile", "apply", "together-download", "--params", str(path)])
    assert applied.exit_code == 0, applied.output
    assert load_params(path).finetune.remote.serve == "download"
    unknown = runner.invoke(app, ["profile", "show", "nope"])
    assert unknown.exit_code == 2 and "no profile 'nope'" in unknown.output
