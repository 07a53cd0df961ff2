"""The YAML loader of hand-written config files: a key given twice is an error naming its path
and lines; YAML 1.2 floats (`1e-5`) are numbers; everything else reads as yaml.safe_load does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from repo_agent.runtime.task import TaskFileError, load_task_dir
from repo_agent.yamlfile import DuplicateKeyError, load_yaml, no_repeats, parse_yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "key", "line", "first"),
    [
        ("a: 1\nb: 2\na: 3\n", "a", 3, 1),
        ("a:\n  b: 1\n  c: 2\n  b: 3\n", "a.b", 4, 2),
        ("a:\n  b:\n    c: 1\n  d: 2\n  b: {}\n", "a.b", 5, 2),
        ("a:\n- x: 1\n- x: 1\n  x: 2\n", "a[1].x", 4, 3),
        ("{a: 1, a: 1}", "a", 1, 1),
        ("1: one\n1: uno\n", "1", 2, 1),
        ("true: 1\nTrue: 2\n", "True", 2, 1),  # the same key once parsed
    ],
)
def test_a_key_given_twice_names_its_path_and_lines(
    text: str, key: str, line: int, first: int
) -> None:
    with pytest.raises(DuplicateKeyError) as info:
        parse_yaml(text)
    assert (info.value.key, info.value.line, info.value.first_line) == (key, line, first)
    assert str(info.value) == f"duplicate key '{key}' on line {line} (first on line {first})"


def test_a_duplicate_is_a_yaml_error() -> None:
    """So every `except yaml.YAMLError` around a load reports it as bad YAML."""
    with pytest.raises(yaml.YAMLError):
        parse_yaml("a: 1\na: 2\n")


def test_equal_keys_in_different_mappings_are_fine() -> None:
    text = "a: {x: 1}\nb: {x: 2}\nc:\n- x: 3\n- x: 4\n"
    assert parse_yaml(text) == yaml.safe_load(text)


def test_a_merge_key_may_be_overridden() -> None:
    text = "base: &b {x: 1, y: 2}\nmine:\n  <<: *b\n  x: 3\n"
    assert parse_yaml(text) == {"base": {"x": 1, "y": 2}, "mine": {"x": 3, "y": 2}}


def test_an_alias_is_checked_once() -> None:
    assert parse_yaml("a: &x {k: 1}\nb: *x\nc: [*x, *x]\n") == {
        "a": {"k": 1},
        "b": {"k": 1},
        "c": [{"k": 1}, {"k": 1}],
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e-5", 1e-5),
        ("-2E+3", -2000.0),
        ("3.0e-05", 3e-5),
        ("10", 10),
        ("'1e-5'", "1e-5"),
        ("1e", "1e"),
        ("e5", "e5"),
        (".inf", float("inf")),  # read as YAML says; the config models refuse it
        ("yes", True),
    ],
)
def test_scalars(text: str, value: object) -> None:
    assert parse_yaml(f"v: {text}\n") == {"v": value}


def test_the_loader_leaves_safe_load_alone() -> None:
    parse_yaml("v: 1e-5\n")
    assert yaml.safe_load("v: 1e-5\n") == {"v": "1e-5"}


def test_the_projects_yaml_files_read_as_safe_load_reads_them() -> None:
    """params.yaml and every task.yaml: same data, none names a key twice."""
    files = [ROOT / "params.yaml", *sorted((ROOT / "src").rglob("task.yaml"))]
    assert len(files) > 20
    for path in files:
        assert load_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8")), path


def test_empty_text_is_none() -> None:
    assert parse_yaml("") is None and parse_yaml("# only a comment\n") is None


def test_a_task_yaml_key_given_twice_is_a_task_file_error(tmp_path: Path) -> None:
    task = tmp_path / "t_dup"
    (task / "repo").mkdir(parents=True)
    (task / "task.yaml").write_text(
        "id: t_dup\ngoal: fix it\ndifficulty: easy\ncategory: x\nexpected_files: [a.py]\n"
        "difficulty: hard\n"
    )
    with pytest.raises(TaskFileError, match=r"task.yaml: duplicate key 'difficulty' on line 6"):
        load_task_dir(task)


def test_no_repeats_names_each_repeated_item_once() -> None:
    assert no_repeats([]) == [] and no_repeats([1, 2]) == [1, 2]
    with pytest.raises(ValueError, match=r"^'a', 'b' given more than once$"):
        no_repeats(["a", "b", "a", "b", "a"])
