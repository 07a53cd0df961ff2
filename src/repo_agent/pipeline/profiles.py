"""Params profiles: named YAML fragments (src/repo_agent/profiles/*.yaml) that a user starts
from, e.g. "Qwen2.5-7B-Instruct on one 80 GB GPU". A profile is merged key by key into
params.yaml (or shown as `dvc exp run -S` options) and validated by the params models; a
section that names a `kind` (teacher, student) replaces the whole section, since which keys a
policy has depends on its kind."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from repo_agent.files import write_text_atomic
from repo_agent.pipeline.params import Params, ParamsError, parse_params
from repo_agent.yamlfile import load_yaml, parse_yaml

PROFILES = resources.files("repo_agent") / "profiles"


def profile_names() -> list[str]:
    """The shipped profiles, by name (the file name without `.yaml`)."""
    names = (p.name.removesuffix(".yaml") for p in PROFILES.iterdir() if p.name.endswith(".yaml"))
    return sorted(names)


def profile_text(name: str) -> str:
    """The YAML text of profile `name` (comments included); an unknown name is a ValueError."""
    if name not in profile_names():
        raise ValueError(f"no profile {name!r}; profiles: {', '.join(profile_names())}")
    return (PROFILES / f"{name}.yaml").read_text(encoding="utf-8")


def load_profile(name: str) -> dict[str, Any]:
    """Profile `name` as a mapping (a repeated key is an error, as in params.yaml)."""
    data = parse_yaml(profile_text(name))
    if not isinstance(data, dict):
        raise ValueError(f"profile {name!r}: expected a mapping of params sections")
    return data


def merged(base: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """`base` with `fragment` laid over it: mappings merge key by key, anything else replaces,
    and so does a mapping with a `kind`.

    >>> merged({"a": {"x": 1, "y": 2}, "b": [1]}, {"a": {"y": 3}, "b": [2]})
    {'a': {'x': 1, 'y': 3}, 'b': [2]}
    >>> merged({"t": {"kind": "oracle", "explore": 0.3}}, {"t": {"kind": "hf"}})
    {'t': {'kind': 'hf'}}
    """
    out = dict(base)
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and "kind" not in value:
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def set_options(fragment: dict[str, Any], prefix: str = "", add: bool = False) -> list[str]:
    """The fragment as `dvc exp run` options, one `-S key=value` per leaf (lists in flow form);
    a section with a `kind` is deleted (`~key`) and added anew (`+key=value`), as `merged` does.

    >>> set_options({"eval": {"grammar": ["sft", "dpo"], "samples": 2}, "student": {"kind": "hf"}})
    ["-S 'eval.grammar=[sft, dpo]'", '-S eval.samples=2', "-S '~student'", '-S +student.kind=hf']
    """
    options = []
    for key, value in fragment.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            renew = "kind" in value and not add
            options += [f"-S '~{path}'"] if renew else []
            options += set_options(value, f"{path}.", add or renew)
            continue
        text = _flow(value)
        option = f"{'+' if add else ''}{path}={text}"
        quote = any(c in option for c in " []{}*?$'\"")
        options.append(f"-S '{option}'" if quote else f"-S {option}")
    return options


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value and yaml.safe_load(value) == value else json.dumps(value)
    text = repr(value)
    if isinstance(value, float) and "e" in text and "." not in text:
        text = text.replace("e", ".0e")  # 5e-06 is a string to YAML 1.1; 5.0e-06 a float
    return text


def apply_profile(name: str, params_path: Path = Path("params.yaml")) -> Params:
    """Merge profile `name` into `params_path` and write it back, only once the result
    validates (a ParamsError names the bad key and leaves the file as it was)."""
    if not params_path.is_file():
        raise ParamsError(f"{params_path}: not found (run from the project root)")
    raw = load_yaml(params_path)
    if not isinstance(raw, dict):
        raise ParamsError(f"{params_path}: expected a mapping of params sections")
    result = merged(raw, load_profile(name))
    params = parse_params(result, f"{params_path} with profile {name}")
    write_text_atomic(params_path, yaml.safe_dump(result, sort_keys=False, allow_unicode=True))
    return params
