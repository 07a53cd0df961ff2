"""The worked examples in the package's docstrings are true."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import repo_agent

ROOT = Path(repo_agent.__file__).parent


def modules_with_examples() -> list[str]:
    """The package's modules whose source holds a `>>>` example (the builtin suites' task
    repos are data, not package code)."""
    names = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "builtin" not in parts and ">>> " in path.read_text():
            package = parts[-1] == "__init__"
            names.append(".".join(("repo_agent", *(parts[:-1] if package else parts))))
    return sorted(names)


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
