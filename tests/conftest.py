"""Shared fixtures: the builtin suite, a sandbox with an outside sentinel, a QuixBugs fixture,
the tiny untrained student and the oracle steps its tokenizer is trained on."""

from __future__ import annotations

import json
import os
import random
import shutil
import string
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tiny import oracle_steps_of, tiny_student

from repo_agent.records import StepRecord
from repo_agent.runtime.sandbox import sandbox_problem
from repo_agent.runtime.task import Task
from repo_agent.runtime.workspace import Workspace
from repo_agent.suites.loader import load_suite

# Two xdist workers share two cores: one torch/BLAS thread each (stage subprocesses inherit
# it); the tiny test models gain nothing from more and the workers would oversubscribe.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# The longest module first: under `pytest -n 2 --dist loadfile --no-loadscope-reorder` (make
# test) a worker takes it at once and the other runs everything else meanwhile, instead of it
# starting last.
FIRST = "tests/pipeline/test_pipeline_dvc.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.nodeid.split("::")[0] != FIRST)


# --- tests that need a system tool: `@pytest.mark.needs("bwrap")` or `require("bwrap")` ---

CHROMIUM = Path("/usr/bin/chromium")
# Why each tool is unusable here (None: usable); `make setup` installs both (Debian packages).
TOOL_PROBLEMS = {
    "bwrap": sandbox_problem,
    "chromium": lambda: None if CHROMIUM.exists() else f"Debian's chromium is not at {CHROMIUM}",
}
# Where a test's subject is not the sandbox, model policies run their tests in it where it
# works, else with the explicit opt-out (`auto` refuses them without bubblewrap).
TEST_SANDBOX = "auto" if sandbox_problem() is None else "none"
# .ci/run installs the tools and names them here: there a test that needs one must not skip.
REQUIRED_ENV = "REPO_AGENT_REQUIRE_TOOLS"


def require(tool: str) -> None:
    """Skip the calling test, saying why, when `tool` is unusable here; fail it instead when
    the run requires the tool ($REPO_AGENT_REQUIRE_TOOLS, set by .ci/run)."""
    problem = TOOL_PROBLEMS[tool]()
    if problem is None:
        return
    if tool in os.environ.get(REQUIRED_ENV, "").split():
        pytest.fail(f"{tool} is required here ({REQUIRED_ENV}) but unusable: {problem}")
    pytest.skip(f"needs {tool}: {problem} (`make setup` installs it; CI runs this test)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(tool): skipped without bwrap / chromium")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        require(*mark.args)


def fake_key(prefix: str, seed: int, n: int = 32) -> str:
    """A key-shaped test value made at run time, so no key-like literal is ever committed."""
    rng = random.Random(seed)
    return prefix + "".join(rng.choices(string.ascii_letters + string.digits, k=n))


@pytest.fixture(scope="session")
def builtin_tasks() -> list[Task]:
    return load_suite("builtin")


@pytest.fixture(scope="session")
def task_by_id(builtin_tasks: list[Task]) -> dict[str, Task]:
    return {t.id: t for t in builtin_tasks}


@pytest.fixture(scope="session")
def bsearch_task(task_by_id: dict[str, Task]) -> Task:
    return task_by_id["a_binary_search"]


@pytest.fixture(scope="session")
def oracle_steps(builtin_tasks: list[Task]) -> list[StepRecord]:
    """The steps of one oracle run on each of the first three builtin tasks."""
    return oracle_steps_of(builtin_tasks[:3])


@pytest.fixture(scope="session")
def student_dir(tmp_path_factory: pytest.TempPathFactory, oracle_steps) -> Path:
    """The tiny embedded student, untrained (read-only: copy it before changing it)."""
    return tiny_student(tmp_path_factory.mktemp("student") / "base", oracle_steps)


@pytest.fixture
def visible_dir() -> Iterator[Path]:
    """A directory outside /tmp and $HOME, so the sandbox sees it (read-only) rather than a
    private tmpfs in its place."""
    base = Path("/var/tmp")
    if not base.is_dir():
        pytest.skip("/var/tmp is missing")
    path = Path(tempfile.mkdtemp(prefix="ra-sandbox-test-", dir=base))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class Sandbox:
    """A workspace next to an `outside` directory whose files must never change."""

    ws: Workspace
    outside: Path
    secret: Path

    def outside_snapshot(self) -> dict[str, bytes]:
        return {
            p.relative_to(self.outside).as_posix(): p.read_bytes()
            for p in sorted(self.outside.rglob("*"))
            if p.is_file() and not p.is_symlink()
        }


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("top secret\n", encoding="utf-8")
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "mod.py").write_text("def f(x):\n    return x + 1\n", encoding="utf-8")
    (root / "tests" / "test_mod.py").write_text(
        "from pkg.mod import f\n\n\ndef test_f():\n    assert f(1) == 2\n", encoding="utf-8"
    )
    (root / "README.md").write_text("hello\n", encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    return Sandbox(Workspace(root), outside, secret)


# --- a QuixBugs-shaped checkout, written from scratch (QuixBugs itself is never shipped) ---

QUIX_CONFTEST = """import pytest


def pytest_addoption(parser):
    parser.addoption("--correct", action="store_true")
    parser.addoption("--runslow", action="store_true")


def pytest_configure(config):
    pytest.use_correct = config.getoption("--correct")
    pytest.run_slow = config.getoption("--runslow")
"""

QUIX_LOAD_TESTDATA = """import json
import pathlib


def load_json_testcases(algorithm):
    root = pathlib.Path(__file__).parent.parent.resolve()
    path = root / "json_testcases" / f"{algorithm}.json"
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
"""

QUIX_NODE = """class Node:
    def __init__(self, value=None, successor=None):
        self.value = value
        self.successor = successor
"""

QUIX_GCD_BUGGY = """def gcd(a, b):
    if b == 0:
        return b
    return gcd(b, a % b)
"""

QUIX_GCD_CORRECT = """def gcd(a, b):
    if b == 0:
        return a
    return gcd(b, a % b)
"""

QUIX_GCD_TEST = """import pytest
from load_testdata import load_json_testcases

if pytest.use_correct:
    from correct_python_programs.gcd import gcd
else:
    from python_programs.gcd import gcd


testdata = load_json_testcases(gcd.__name__)


@pytest.mark.parametrize("input_data,expected", testdata)
def test_gcd(input_data, expected):
    assert gcd(*input_data) == expected
"""

QUIX_LEN_BUGGY = """def list_length(node):
    count = 0
    while node.successor is not None:
        count += 1
        node = node.successor
    return count
"""

QUIX_LEN_CORRECT = """def list_length(node):
    count = 0
    while node is not None:
        count += 1
        node = node.successor
    return count
"""

QUIX_LEN_TEST = """import pytest

from python_programs.node import Node

if pytest.use_correct:
    from correct_python_programs.list_length import list_length
else:
    from python_programs.list_length import list_length


def test_three_nodes():
    assert list_length(Node(1, Node(2, Node(3)))) == 3


def test_one_node():
    assert list_length(Node(1)) == 1
"""


def write_quixbugs(root: Path, with_conftest: bool = True) -> Path:
    """Write a tiny QuixBugs-layout checkout: 2 tasks, plus programs the loader must skip."""
    progs = root / "python_programs"
    correct = root / "correct_python_programs"
    tests = root / "python_testcases"
    data = root / "json_testcases"
    for d in (progs, correct, tests, data):
        d.mkdir(parents=True, exist_ok=True)
    files = {
        progs / "node.py": QUIX_NODE,
        correct / "node.py": QUIX_NODE,
        progs / "gcd.py": QUIX_GCD_BUGGY,
        correct / "gcd.py": QUIX_GCD_CORRECT,
        tests / "test_gcd.py": QUIX_GCD_TEST,
        progs / "list_length.py": QUIX_LEN_BUGGY,
        correct / "list_length.py": QUIX_LEN_CORRECT,
        tests / "test_list_length.py": QUIX_LEN_TEST,
        tests / "load_testdata.py": QUIX_LOAD_TESTDATA,
        # Skipped by the loader: no test file, and no correct version.
        progs / "untested.py": "def untested():\n    return 1\n",
        correct / "untested.py": "def untested():\n    return 2\n",
        progs / "orphan.py": "def orphan():\n    return 1\n",
        tests / "test_orphan.py": "def test_orphan():\n    assert False\n",
        data / "gcd.json": "\n".join(json.dumps(c) for c in [[[12, 8], 4], [[35, 21], 7]]) + "\n",
    }
    if with_conftest:
        files[root / "conftest.py"] = QUIX_CONFTEST
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def quixbugs_root(tmp_path: Path) -> Path:
    return write_quixbugs(tmp_path / "QuixBugs")
