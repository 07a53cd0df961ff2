"""The `repo` suite: any local repository with failing tests as one task (no reference fix)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest
from conftest import TEST_SANDBOX, fake_key
from pydantic import ValidationError
from typer.testing import CliRunner

from repo_agent.cli.app import app
from repo_agent.policies.scripted import ScriptedPolicy
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.runtime.task import TaskFileError, TaskSpec
from repo_agent.runtime.tools import execute_tool
from repo_agent.runtime.workspace import Workspace
from repo_agent.suites.loader import load_suite
from repo_agent.suites.repo import REPO_GOAL, load_repo_task

REPO_KEY = fake_key("sk-test-", 81, 20)

TEST_CMD = "python -m pytest -q -x tests"
BUGGY = "def area(w, h):\n    return w + h\n"
FIXED = "def area(w, h):\n    return w * h\n"


def _repo(root: Path, code: str = BUGGY) -> Path:
    (root / "geometry").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "geometry" / "__init__.py").write_text("", encoding="utf-8")
    (root / "geometry" / "shapes.py").write_text(code, encoding="utf-8")
    (root / "tests" / "test_shapes.py").write_text(
        "from geometry.shapes import area\n\n\ndef test_area():\n    assert area(3, 4) == 12\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return _repo(tmp_path / "my-repo")


def test_load_repo_task(repo: Path) -> None:
    task = load_repo_task(repo, TEST_CMD)
    assert task.id == "my-repo" and task.suite == "repo"
    assert task.spec.goal == REPO_GOAL
    assert task.fix is None and task.files == {} and task.source_root == repo.resolve()
    assert task.metadata.model_dump() == {
        "difficulty": "medium",
        "category": "repo",
        "expected_files": [],
    }
    assert task.original_text("geometry/shapes.py") == BUGGY  # read from the repo itself
    assert [t.id for t in load_suite("repo", repo, TEST_CMD)] == ["my-repo"]
    assert not (repo / ".pytest_cache").exists()  # the check ran in a copy


def test_repo_whose_tests_pass_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "ok", FIXED)
    with pytest.raises(TaskFileError, match="the tests pass"):
        load_repo_task(repo, TEST_CMD)


def test_repo_suite_needs_a_path_and_a_directory(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match="needs --path"):
        load_suite("repo")
    with pytest.raises(TaskFileError, match="not a directory"):
        load_repo_task(tmp_path / "missing", TEST_CMD)


def test_only_repo_tasks_may_lack_expected_files() -> None:
    with pytest.raises(ValidationError, match="expected_files"):
        TaskSpec(id="x", goal="g", difficulty="easy", category="math", expected_files=[])


def test_cli_validate_repo_suite(repo: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["tasks", "validate", "--suite", "repo", "--path", str(repo), "--test-cmd", TEST_CMD],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "1/1 tasks valid" in result.output


def test_cli_oracle_on_repo_suite_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs" / "repo.jsonl"
    args = ["run", "--suite", "repo", "--path", str(repo), "--test-cmd", TEST_CMD]
    result = CliRunner().invoke(
        app, [*args, "--policy", "oracle", "--out", str(out)], terminal_width=200
    )
    assert result.exit_code == 2
    assert "oracle teacher needs a reference fix" in result.output
    assert "--policy openai" in result.output
    assert "Traceback" not in result.output
    assert not out.exists() and not out.with_suffix(".traces.jsonl").exists()


def test_an_agent_run_on_a_repo_task_diffs_against_the_repo(repo: Path) -> None:
    task = load_repo_task(repo, TEST_CMD)
    write = {"rel_path": "geometry/shapes.py", "content": FIXED}
    policy = ScriptedPolicy(
        [json.dumps({"type": "tool_call", "name": "write_file", "args": write})]
    )
    done = []
    run_episodes(
        [RunSpec(task, "r0")], policy, AgentConfig(), lambda steps, line: done.append(line)
    )
    line = done[0]
    assert line.result.success, line.result.test_output
    assert "-    return w + h\n+    return w * h" in line.diff
    assert (repo / "geometry" / "shapes.py").read_text(encoding="utf-8") == BUGGY  # untouched


def test_tools_stay_bounded_in_a_large_repo(repo: Path) -> None:
    """Thousands of files under .git, .venv and node_modules are neither copied nor walked."""
    for heavy in (".git/objects/ab", ".venv/lib/site", "node_modules/pkg", "build/lib"):
        d = repo / heavy
        d.mkdir(parents=True)
        for i in range(1500):
            (d / f"f{i}.py").write_text("def area(w, h):\n    return 0\n", encoding="utf-8")
    (repo / "data.bin").write_bytes(b"\x00" * 2_000_000)
    (repo / "huge.txt").write_text("def area\n" * 300_000, encoding="utf-8")

    started = time.monotonic()
    ws = Workspace.create({}, repo)
    try:
        copied = time.monotonic() - started
        assert not any((ws.root / d).exists() for d in (".git", ".venv", "node_modules", "build"))
        for tool, args in [
            ("list_files", {"rel_dir": "."}),
            ("grep", {"pattern": r"def area", "rel_dir": "."}),
        ]:
            t0 = time.monotonic()
            result = execute_tool(ws, tool, args)
            assert result.ok and time.monotonic() - t0 < 2.0
        # Even walking the original tree in place skips the heavy directories.
        in_place = Workspace(repo)
        t0 = time.monotonic()
        listed = execute_tool(in_place, "list_files", {"rel_dir": "."}).text.splitlines()
        hits = execute_tool(in_place, "grep", {"pattern": r"def area"}).text.splitlines()
        assert time.monotonic() - t0 < 2.0
    finally:
        ws.cleanup()
    assert copied < 5.0
    assert sorted(listed) == [
        "data.bin",
        "geometry/__init__.py",
        "geometry/shapes.py",
        "huge.txt",
        "tests/test_shapes.py",
    ]
    assert hits == ["geometry/shapes.py:1: def area(w, h):"]  # huge.txt is over the size cap


def test_scripted_api_policy_fixes_a_repo_over_real_http(repo: Path, tmp_path: Path) -> None:
    """`repo-agent run --suite repo --policy openai` against a local server that replays a
    script: the repo's tests fail before and pass after, and the run records success."""
    import subprocess
    import sys

    from fake_api import FakeAPI

    script = [
        '{"type":"tool_call","name":"list_files","args":{"rel_dir":"."}}',
        '{"type":"tool_call","name":"grep","args":{"pattern":"def area","rel_dir":"."}}',
        '{"type":"tool_call","name":"read_file","args":{"rel_path":"geometry/shapes.py"}}',
        json.dumps(
            {
                "type": "tool_call",
                "name": "write_file",
                "args": {"rel_path": "geometry/shapes.py", "content": FIXED},
            }
        ),
        '{"type":"final","summary":"area multiplies"}',
    ]

    def respond(body: dict) -> dict:
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        return {"role": "assistant", "content": script[min(turn, len(script) - 1)]}

    out = tmp_path / "runs" / "repo.jsonl"
    with FakeAPI(respond) as api:
        proc = subprocess.run(
            [
                str(Path(sys.executable).parent / "repo-agent"),
                "run",
                "--suite",
                "repo",
                "--path",
                str(repo),
                "--test-cmd",
                TEST_CMD,
                "--policy",
                "openai",
                "--model",
                "scripted",
                "--base-url",
                f"{api.url}/v1",
                "--no-cache",
                "--sandbox",
                TEST_SANDBOX,
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**__import__("os").environ, "OPENAI_API_KEY": REPO_KEY},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert len(api.calls("POST", r"/v1/chat/completions")) == len(script)
    result = json.loads(out.read_text().splitlines()[0])
    assert result["success"] is True
    assert result["files_touched"] == ["geometry/shapes.py"]
    assert (repo / "geometry" / "shapes.py").read_text() == BUGGY  # the repo itself untouched
    assert REPO_KEY not in out.with_suffix(".traces.jsonl").read_text()


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temp dirs (the `ra-repo-check-*` copy among them) go here, so leftovers are seen."""
    root = tmp_path / "temp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _leftovers(temp_root: Path) -> list[str]:
    return [p.name for p in temp_root.iterdir() if p.name.startswith("ra-repo-check-")]


def test_an_unbalanced_quote_is_a_clear_error_before_any_copy(repo: Path, temp_root: Path) -> None:
    with pytest.raises(TaskFileError, match="cannot be parsed: No closing quotation"):
        load_repo_task(repo, "python -m pytest -k 'area")
    assert _leftovers(temp_root) == []


@pytest.mark.parametrize(
    ("test_cmd", "why"),
    [
        ("pytset -q", "pytset: not found"),
        ("sh -c 'exit 127'", "exit status 127 (command not found)"),
        ("./run_tests.sh", "./run_tests.sh: not found"),
    ],
)
def test_a_test_command_that_cannot_start_is_not_a_failing_repo(
    repo: Path, temp_root: Path, test_cmd: str, why: str
) -> None:
    with pytest.raises(TaskFileError, match="the test command cannot start") as err:
        load_repo_task(repo, test_cmd)
    assert why in str(err.value) and "the tests pass" not in str(err.value)
    assert _leftovers(temp_root) == []


def test_a_repo_that_cannot_be_copied_is_a_clear_error(repo: Path, temp_root: Path) -> None:
    deep = repo.joinpath(*["d"] * 200)  # far deeper than Workspace.create copies
    deep.mkdir(parents=True)
    with pytest.raises(TaskFileError, match="cannot copy the repository"):
        load_repo_task(repo, TEST_CMD)
    assert _leftovers(temp_root) == []


def test_cli_reports_a_bad_test_command_without_a_traceback(repo: Path) -> None:
    for test_cmd in ("python -m pytest -k 'area", "pytset -q"):
        result = CliRunner().invoke(
            app,
            ["tasks", "validate", "--suite", "repo", "--path", str(repo), "--test-cmd", test_cmd],
            terminal_width=200,
        )
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output
        assert "--test-cmd" in result.output or "cannot start" in result.output
