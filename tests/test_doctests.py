"""The worked examples in the package's docstrings are true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import repo_agent

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(repo_agent.__path__, "repo_agent.")
    if ".suites.builtin" not in m.name
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
