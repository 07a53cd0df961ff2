"""Config files a person writes (params.yaml, task.yaml): a YAML loader that refuses duplicate
keys, and the strict pydantic base of the models those files fill.

PyYAML keeps the last of two equal keys without a word, so an edit to a second `eval:` block
silently replaces the first; YAML itself says keys are unique, and here a duplicate is an
error naming its key path and both lines. The loader also reads `1e-5` as a number, as YAML 1.2
and DVC (which writes params.yaml on `dvc exp run -S`) do; PyYAML alone reads it as a string.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_MERGE_TAG = "tag:yaml.org,2002:merge"
T = TypeVar("T")


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names one key twice; `key` is its dotted path, lines are 1-based."""

    def __init__(self, key: str, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key '{key}' on line {line} (first on line {first_line})")
        self.key, self.line, self.first_line = key, line, first_line


class UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that raises DuplicateKeyError for a key given twice in one mapping.

    Merge keys (`<<: *base`) may still be overridden by the mapping's own keys.

    >>> yaml.load("a: 1\\nb: {c: 1e-5}", Loader=UniqueKeyLoader)
    {'a': 1, 'b': {'c': 1e-05}}
    >>> yaml.load("a: 1\\nb:\\n  c: 2\\n  c: 3\\n", Loader=UniqueKeyLoader)
    Traceback (most recent call last):
    ...
    repo_agent.yamlfile.DuplicateKeyError: duplicate key 'b.c' on line 4 (first on line 3)
    """

    def construct_document(self, node: yaml.Node) -> object:
        self._check_unique(node, "", set())
        return super().construct_document(node)

    def _check_unique(self, node: yaml.Node, path: str, seen: set[int]) -> None:
        if id(node) in seen:  # an alias of a node already checked (or a recursive one)
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._check_unique(item, f"{path}[{i}]", seen)
        elif isinstance(node, yaml.MappingNode):
            first: dict[object, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                name = path
                if isinstance(key_node, yaml.ScalarNode):
                    key = self.construct_object(key_node)
                    name = f"{path}.{key}" if path else str(key)
                    line = key_node.start_mark.line + 1
                    if key in first:
                        raise DuplicateKeyError(name, line, first[key])
                    first[key] = line
                self._check_unique(value_node, name, seen)


# YAML 1.2 floats without a dot (1e-5, -2E+3), which YAML 1.1's resolver leaves as strings.
UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> object:
    """Parse YAML text with UniqueKeyLoader (a yaml.YAMLError when malformed or duplicated)."""
    return yaml.load(text, Loader=UniqueKeyLoader)


def load_yaml(path: Path) -> object:
    """Read and parse a YAML file with UniqueKeyLoader."""
    return parse_yaml(path.read_text(encoding="utf-8"))


class ConfigModel(BaseModel):
    """A config read from a file a person writes or from CLI options: unknown keys, inf and
    nan are errors, and no type is coerced ("10" or true is no int, "yes" or 1 no bool; an
    int is a valid float)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# Seeds reach numpy (transformers' set_seed), which takes 0 <= seed < 2**32; every seed shares it.
Seed = Annotated[int, Field(ge=0, lt=2**32)]


def no_repeats(items: list[T]) -> list[T]:
    """`items` unchanged, or a ValueError naming each item given more than once.

    >>> no_repeats(["base", "sft"])
    ['base', 'sft']
    >>> no_repeats(["base", "sft", "base"])
    Traceback (most recent call last):
    ...
    ValueError: 'base' given more than once
    """
    repeated = [x for i, x in enumerate(items) if x in items[:i]]
    if repeated:
        raise ValueError(
            f"{', '.join(repr(x) for x in dict.fromkeys(repeated))} given more than once"
        )
    return items


# A list field whose items must differ: `Annotated[list[X], Unique]`.
Unique = AfterValidator(no_repeats)
