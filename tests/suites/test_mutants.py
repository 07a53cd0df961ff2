"""Mutant tasks: each AST operator on small programs, and generation end to end on tiny task
trees and repos written here (real pytest subprocesses)."""

from __future__ import annotations

import ast
import difflib
import json
import random
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from repo_agent.cli.app import app
from repo_agent.suites.generation import run_job
from repo_agent.suites.loader import load_suite
from repo_agent.suites.mutant_sources import (
    MutantError,
    SourceProgram,
    load_sources,
    programs_digest,
)
from repo_agent.suites.mutant_tasks import symptom_goal
from repo_agent.suites.mutants import (
    ProgramReport,
    candidate_order,
    ensure_mutant_suite,
    generate_mutants,
    mutant_job,
)
from repo_agent.suites.mutations import OPERATORS, apply_mutation, find_mutations
from repo_agent.suites.validate import validate_tasks


def mutate(prog: SourceProgram, *args: Any, **kwargs: Any) -> ProgramReport:
    """One program's job run to its end, its tests on this thread."""
    return run_job(mutant_job(prog, *args, **kwargs))


def _mutants(source: str, op: str) -> dict[str, str]:
    """Unparsed mutant source -> description, for every site of one operator."""
    tree = ast.parse(textwrap.dedent(source))
    out = {}
    for m in find_mutations(tree, (op,)):
        mutant, what = apply_mutation(tree, m)
        text = ast.unparse(mutant)
        compile(text, "<mutant>", "exec")
        out[text] = what
    return out


CASES = [
    ("flip_comparison", "def f(a, b):\n    return a < b", "return a > b"),
    ("flip_comparison", "def f(a, b):\n    return a == b", "return a != b"),
    ("off_by_one", "def f(a, b):\n    return a <= b", "return a < b"),
    ("off_by_one", "def f(n):\n    return list(range(n))", "range(n + 1)"),
    ("off_by_one", "def f(xs, i):\n    return xs[i]", "return xs[i - 1]"),
    ("off_by_one", "def f(xs):\n    return xs[len(xs) - 1]", "return xs[len(xs)]"),
    ("off_by_one", "def f(xs, k):\n    return xs[:k]", "return xs[:k + 1]"),
    ("swap_operands", "def f(a, b):\n    return a - b", "return b - a"),
    ("swap_operands", "def f(a, b):\n    return pow(a, b)", "return pow(b, a)"),
    ("wrong_operator", "def f(a, b):\n    return a + b", "return a - b"),
    ("wrong_operator", "def f(a, b):\n    return a and b", "return a or b"),
    ("wrong_operator", "def f(t, x):\n    t += x\n    return t", "t -= x"),
    ("wrong_variable", "def f(a, b):\n    return a", "return b"),
    ("drop_statement", "def f(xs):\n    xs.sort()\n    return xs", "def f(xs):\n    return xs"),
    ("change_constant", "def f():\n    return 0", "return 1"),
    ("change_constant", "def f():\n    return True", "return False"),
    ("invert_condition", "def f(x):\n    if x:\n        return 1\n    return 2", "if not x:"),
    ("invert_condition", "def f(xs):\n    return [x for x in xs if x > 0]", "if not x > 0"),
    (
        "early_return",
        "def f(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t",
        "        t += x\n        return t\n    return t",
    ),
    (
        "early_return",
        "def f(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t",
        "    t = 0\n    return t\n    for x in xs:",
    ),
]


@pytest.mark.parametrize(("op", "source", "expected"), CASES)
def test_each_operator_plants_its_bug(op: str, source: str, expected: str) -> None:
    mutants = _mutants(source, op)
    assert any(expected in text for text in mutants), f"{expected!r} not in {list(mutants)}"


def test_every_operator_has_a_test_case() -> None:
    assert {case[0] for case in CASES} == set(OPERATORS)


def test_docstrings_and_module_code_are_left_alone() -> None:
    source = '"""Module doc."""\nLIMIT = 3\n\n\ndef f(x):\n    """Doc 1."""\n    return x + LIMIT\n'
    tree = ast.parse(source)
    for m in find_mutations(tree):
        text = ast.unparse(apply_mutation(tree, m)[0])
        assert "Module doc." in text and "Doc 1." in text
    # Module-level statements are never dropped (that only makes an import-time error).
    assert all(m.function == "f" for m in find_mutations(tree, ("drop_statement",)))


def test_description_names_the_change() -> None:
    what = _mutants("def f(a, b):\n    return a - b", "wrong_operator")
    assert list(what.values()) == ["`a - b` → `a + b`"]


def test_candidate_order_is_seeded_and_mixes_operators() -> None:
    tree = ast.parse("def f(a, b):\n    if a < b:\n        return a - b + 1\n    return b * 2\n")
    ms = find_mutations(tree)
    first = candidate_order(ms, random.Random("0:f"))
    assert first == candidate_order(ms, random.Random("0:f"))
    assert first != candidate_order(ms, random.Random("1:f"))
    assert sorted(map(repr, first)) == sorted(map(repr, ms))
    kinds = {m.op for m in ms}
    assert {m.op for m in first[: len(kinds)]} == kinds  # one of each before any repeat


def test_symptom_goal_names_the_failing_test_file() -> None:
    out = "E       assert 3 == 4\nFAILED tests/test_clamp.py::test_high[2] - assert 3 == 4\n"
    goal = symptom_goal(out, "python -m pytest -q tests")
    assert goal.startswith("test_high in tests/test_clamp.py fails (assert 3 == 4).")
    assert "tests/test_clamp.py pass" in goal
    assert "The tests fail" in symptom_goal("Traceback ...", "make check")


def test_symptom_goal_is_the_same_whatever_address_an_object_got() -> None:
    def out(address: str) -> str:
        error = f"E       assert <Node object at {address}> is None"
        return f"{error}\nFAILED tests/test_lru.py::test_drop - assert ...\n"

    one, other = symptom_goal(out("0x7f3a1c2b9d50"), ""), symptom_goal(out("0x7f9e00a1b2c0"), "")
    assert one == other and "<Node object at 0x…> is None" in one


# --- generation on tiny programs ------------------------------------------------------------

CLAMP = '''\
"""Clamp numbers into a range."""


def clamp(x, low, high):
    # Comments vanish: task files are the unparsed source.
    if x < low:
        return low
    if x > high:
        return high
    return x
'''

CLAMP_TEST = """\
from clamp import clamp


def test_inside():
    assert clamp(5, 0, 10) == 5


def test_low():
    assert clamp(-3, 0, 10) == 0


def test_high():
    assert clamp(12, 0, 10) == 10


def test_edges():
    assert clamp(0, 0, 10) == 0
    assert clamp(10, 0, 10) == 10
"""


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _task_tree(root: Path) -> Path:
    """One builtin-layout task whose reference fix is the correct clamp."""
    buggy = CLAMP.replace("x > high", "x >= high + 1")
    spec = {"format": 1, "id": "clamp", "goal": "clamp is wrong.", "difficulty": "easy"}
    spec |= {"category": "math", "expected_files": ["clamp.py"]}
    spec["test_cmd"] = "python -m pytest -q -x tests"
    return _write(
        root,
        {
            "clamp/task.yaml": yaml.safe_dump(spec),
            "clamp/repo/clamp.py": buggy,
            "clamp/repo/tests/test_clamp.py": CLAMP_TEST,
            "clamp/fix/clamp.py": CLAMP,
        },
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("mutants")
    source = _task_tree(root / "source")
    generate_mutants(source, root / "out", max_per_program=2, seed=7)
    return source, root / "out"


def test_generated_tasks_are_valid_builtin_layout_tasks(generated: tuple[Path, Path]) -> None:
    _, out = generated
    tasks = load_suite("mutants", out)
    assert len(tasks) == 2
    for t in tasks:
        assert t.suite == "mutants" and t.id.startswith("clamp__")
        assert t.spec.category.startswith("mutant_")
        assert t.spec.category.removeprefix("mutant_") in OPERATORS
        assert t.spec.expected_files == ["clamp.py"]
        assert t.spec.difficulty == "easy"
        assert "tests/test_clamp.py" in t.spec.goal
        assert t.fix == {"clamp.py": ast.unparse(ast.parse(CLAMP)) + "\n"}
        assert sorted(t.files) == ["clamp.py", "tests/test_clamp.py"]
        # The diff between the task and its fix is the planted bug alone.
        buggy = t.files["clamp.py"].read_text(encoding="utf-8").splitlines()
        changed = [
            line
            for line in difflib.unified_diff(t.fix["clamp.py"].splitlines(), buggy, lineterm="")
            if line[:1] in "+-" and line[:3] not in ("+++", "---")
        ]
        assert 1 <= len(changed) <= 3, changed
    assert all(v.ok for v in validate_tasks(tasks)), "buggy must fail and the fix must pass"
    manifest = json.loads((out / "mutants.json").read_text(encoding="utf-8"))
    assert manifest["kept"] == 2 and manifest["programs"][0]["program"] == "clamp"


def test_refuses_to_overwrite_without_force(generated: tuple[Path, Path]) -> None:
    source, out = generated
    with pytest.raises(MutantError, match="already holds tasks"):
        generate_mutants(source, out, max_per_program=1)
    with pytest.raises(MutantError, match="not a generated mutant"):
        generate_mutants(source, source, max_per_program=1, force=True)


def _program(root: Path, code: str, test: str) -> SourceProgram:
    _write(root, {"mod.py": code, "tests/test_mod.py": test})
    return SourceProgram(
        name="mod", files={}, overrides={}, targets=["mod.py"],
        test_cmd="python -m pytest -q -x tests", timeout_s=30.0, source_root=root,
    )  # fmt: skip


def test_surviving_mutants_are_rejected(tmp_path: Path) -> None:
    prog = _program(
        tmp_path / "src", "def double(x):\n    return x * 2\n", "def test_nothing():\n    pass\n"
    )
    report = mutate(prog, tmp_path / "out", 3, 0, 10.0, max_tries=3)
    assert report.kept == [] and report.tried == 3
    assert report.rejected["survived"] == 3
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_hanging_mutants_are_rejected(tmp_path: Path) -> None:
    code = "def count(n):\n    i = 0\n    while i < n:\n        i += 1\n    return i\n"
    test = "from mod import count\n\n\ndef test_count():\n    assert count(3) == 3\n"
    prog = _program(tmp_path / "src", code, test)
    # Dropping `i += 1` hangs; dropping `i = 0` or `return i` fails at once.
    report = mutate(prog, tmp_path / "out", 5, 0, 2.0, max_tries=5, ops=("drop_statement",))
    assert report.candidates == 3 and report.tried == 3
    assert report.rejected["timeout"] == 1
    assert len(report.kept) == 2
    kept_code = [(tmp_path / "out" / k / "repo" / "mod.py").read_text() for k in report.kept]
    assert all("i += 1" in c for c in kept_code)


def test_duplicate_mutants_are_rejected(tmp_path: Path) -> None:
    code = "def first(xs):\n    return xs[0]\n"
    test = "from mod import first\n\n\ndef test_first():\n    assert first([5, 6, 7]) == 5\n"
    prog = _program(tmp_path / "src", code, test)
    # `xs[0]` → `xs[1]` and `xs[-1]`, both by off_by_one and by change_constant.
    report = mutate(
        prog, tmp_path / "out", 5, 0, 10.0, max_tries=5, ops=("off_by_one", "change_constant")
    )
    assert report.candidates == 4
    assert (report.tried, report.rejected["duplicate"], len(report.kept)) == (2, 2, 2)


def test_progress_is_reported_per_try_and_once_per_program(tmp_path: Path) -> None:
    survivor = _program(
        tmp_path / "a", "def double(x):\n    return x * 2\n", "def test_nothing():\n    pass\n"
    )
    survivor.name = "double"
    inert = _program(tmp_path / "b", "def f():\n    pass\n", "def test_f():\n    pass\n")
    inert.name = "inert"
    calls: list[tuple[str, int, bool]] = []

    def on_progress(r: ProgramReport, done: bool) -> None:
        calls.append((r.program, r.tried, done))

    report = generate_mutants(
        [survivor, inert], tmp_path / "out", 1, 0, max_tries=2, on_progress=on_progress
    )
    assert sorted(c for c in calls if c[2]) == [("double", 2, True), ("inert", 0, True)]
    tries = [c for c in calls if c[0] == "double"]
    assert tries == [("double", 1, False), ("double", 2, False), ("double", 2, True)]
    assert [p.note for p in report.programs] == [None, "nothing to mutate"]


def test_cli_generates_from_a_plain_repo(tmp_path: Path) -> None:
    repo = _write(
        tmp_path / "myrepo",
        {"pkg/clamp.py": CLAMP, "pkg/__init__.py": "", "tests/test_clamp.py": CLAMP_TEST},
    )
    (repo / "tests" / "test_clamp.py").write_text(
        CLAMP_TEST.replace("from clamp", "from pkg.clamp"), encoding="utf-8"
    )
    (repo / ".venv" / "lib").mkdir(parents=True)
    (repo / ".venv" / "lib" / "junk.py").write_text("x = 1\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["tasks", "generate", "--from", str(repo), "--out", str(out), "--max", "1"]
    result = CliRunner().invoke(
        app, [*args, "--test-cmd", "python -m pytest -q -x tests"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "myrepo_pkg_clamp" in result.output and "TOTAL" in result.output
    tasks = load_suite("mutants", out)
    assert [t.spec.expected_files for t in tasks] == [["pkg/clamp.py"]]
    assert not any(".venv" in rel for rel in tasks[0].files)
    # A repo whose tests fail is refused with a clear message.
    (repo / "tests" / "test_broken.py").write_text("def test_x():\n    assert 0\n")
    result = CliRunner().invoke(app, [*args[:-2], "--out", str(tmp_path / "o2")])
    assert result.exit_code == 2 and "tests must pass" in result.output


def _contents(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "mutants.json"
    }


def test_ensure_mutant_suite_is_deterministic_and_reuses_tasks(
    generated: tuple[Path, Path], tmp_path: Path
) -> None:
    source, first = generated
    out = tmp_path / "suite"
    tasks = ensure_mutant_suite(out, source, max_per_program=2, seed=7)
    assert _contents(out) == _contents(first)  # same seed, same tasks, byte for byte
    stamp = (out / tasks[0].id / "task.yaml").stat().st_mtime_ns
    again = ensure_mutant_suite(out, source, max_per_program=2, seed=7)
    assert [t.id for t in again] == [t.id for t in tasks]
    assert (out / tasks[0].id / "task.yaml").stat().st_mtime_ns == stamp  # not regenerated


def test_ensure_mutant_suite_regenerates_when_a_source_task_changes(
    generated: tuple[Path, Path], tmp_path: Path
) -> None:
    source, _ = generated
    source = Path(shutil.copytree(source, tmp_path / "source"))
    out = tmp_path / "suite"
    tasks = ensure_mutant_suite(out, source, max_per_program=2, seed=7)
    test_file = source / "clamp" / "repo" / "tests" / "test_clamp.py"
    edited = (
        test_file.read_text(encoding="utf-8")
        + "\n\ndef test_zero():\n    assert clamp(0, 0, 0) == 0\n"
    )
    test_file.write_text(edited, encoding="utf-8")
    again = ensure_mutant_suite(out, source, max_per_program=2, seed=7)
    assert [t.id for t in again] == [t.id for t in tasks]
    for t in again:  # every mutant carries the edited tests
        assert t.files["tests/test_clamp.py"].read_text(encoding="utf-8") == edited
    manifest = json.loads((out / "mutants.json").read_text(encoding="utf-8"))
    assert manifest["sources"] == programs_digest(load_sources(source))


@pytest.mark.slow
def test_every_builtin_program_yields_a_mutant(tmp_path: Path) -> None:
    from repo_agent.suites.loader import BUILTIN_DIR

    report = generate_mutants(BUILTIN_DIR, tmp_path / "out", max_per_program=1, seed=0)
    assert len(report.programs) == 44
    empty = [p.program for p in report.programs if not p.kept]
    assert not empty, empty


def test_generates_from_a_quixbugs_checkout(quixbugs_root: Path, tmp_path: Path) -> None:
    report = generate_mutants(quixbugs_root, tmp_path / "out", max_per_program=1, seed=0)
    assert sorted(p.program for p in report.programs) == ["quixbugs_gcd", "quixbugs_list_length"]
    tasks = load_suite("mutants", tmp_path / "out")
    assert [t.spec.expected_files for t in tasks] == [
        ["python_programs/gcd.py"],
        ["python_programs/list_length.py"],
    ]
    assert all(t.spec.test_cmd.endswith(".py") for t in tasks)  # each program's own test file
