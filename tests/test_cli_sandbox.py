"""Agent-written code never runs unsandboxed by accident: `repo-agent run` as a real subprocess
with and without bubblewrap on PATH, against a real local HTTP server for the API policy, and
a hostile conftest written by the "model" through the agent."""

from __future__ import annotations

import json
import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_api import FakeAPI, oracle_responder
from test_cli_hostile import CLI, TASK, one_error, output

from repo_agent.suites.loader import load_suite

# The venv's bin holds python (the tasks' test command) and repo-agent, never bwrap.
NO_BWRAP = str(Path(sys.executable).parent)
OFF = "warning: test sandbox off"


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    return CLI(tmp_path)


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    with FakeAPI(oracle_responder(load_suite("builtin"), "json")) as server:
        yield server


def openai(api: FakeAPI) -> list[str]:
    return ["--policy", "openai", "--model", "m", "--no-cache", "--base-url", f"{api.url}/v1"]


@pytest.mark.needs("bwrap")
def test_with_bwrap_test_runs_are_sandboxed_and_the_summary_says_so(cli: CLI) -> None:
    proc = cli("run", *TASK)
    assert proc.returncode == 0, output(proc)
    assert "test runs sandboxed (bubblewrap)" in proc.stdout
    assert OFF not in output(proc)


def test_without_bwrap_the_oracle_runs_unsandboxed_with_one_warning(cli: CLI) -> None:
    cli.env["PATH"] = NO_BWRAP
    proc = cli("run", "--task", "a_gcd_lcm", "--task", "a_binary_search")
    assert proc.returncode == 0, output(proc)
    assert proc.stderr.count(OFF) == 1 and "apt-get install bubblewrap" in proc.stderr
    assert "TOTAL" in proc.stdout and "100%" in proc.stdout  # both runs passed their tests
    assert "test runs NOT sandboxed (bubblewrap (bwrap) is not installed)" in proc.stdout


def test_without_bwrap_an_api_policy_is_refused_before_its_first_request(
    cli: CLI, api: FakeAPI
) -> None:
    cli.env["PATH"] = NO_BWRAP
    out = cli.cwd / "r.jsonl"
    proc = cli("run", *TASK, *openai(api), "--out", out)
    one_error(
        proc,
        "--policy openai writes code we do not control",
        "bubblewrap (bwrap) is not installed",
        "apt-get install bubblewrap",
        "agent.sandbox: none (--sandbox none)",
    )
    assert OFF not in output(proc)
    assert api.requests == []
    assert not out.exists()


def test_without_bwrap_sandbox_none_runs_an_api_policy_with_the_warning(
    cli: CLI, api: FakeAPI
) -> None:
    cli.env["PATH"] = NO_BWRAP
    proc = cli("run", *TASK, *openai(api), "--sandbox", "none")
    assert proc.returncode == 0, output(proc)
    assert proc.stderr.count(OFF) == 1 and "agent.sandbox is none" in proc.stderr
    assert "test runs NOT sandboxed (agent.sandbox: none)" in proc.stdout
    assert "100%" in proc.stdout and api.calls("POST", "/v1/chat/completions")


def test_test_policy_never_needs_no_sandbox(cli: CLI, api: FakeAPI) -> None:
    cli.env["PATH"] = NO_BWRAP
    proc = cli("run", *TASK, *openai(api), "--test-policy", "never")
    assert proc.returncode == 0, output(proc)
    assert OFF not in proc.stderr and "no test runs (test_policy: never)" in proc.stdout


# --- a hostile conftest, written by the model, run by the agent's tests ---------------------


def hostile_conftest(outside: Path, port: int) -> str:
    return textwrap.dedent(
        f"""
        import os, pathlib, socket
        print("HOSTILE RAN")
        try:
            pathlib.Path({str(outside)!r}).write_text("pwned")
        except OSError as exc:
            print("WRITE BLOCKED", type(exc).__name__)
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"hello")
        except OSError as exc:
            print("CONNECT BLOCKED", type(exc).__name__)
        pathlib.Path("leak.txt").write_text(repr(dict(os.environ)))
        print("ENV", dict(os.environ))
        """
    )


@pytest.mark.needs("bwrap")
def test_a_hostile_conftest_from_the_model_is_contained(
    cli: CLI, tmp_path: Path, visible_dir: Path
) -> None:
    """The model writes tests/conftest.py; `after_write` runs the tests at once, sandboxed:
    no write outside the workspace, no connection to a loopback listener, no key anywhere."""
    key = cli.env["OPENAI_API_KEY"]
    outside = visible_dir / "pwned.txt"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        script = [
            {"type": "tool_call", "name": "write_file", "args": {
                "rel_path": "tests/conftest.py",
                "content": hostile_conftest(outside, listener.getsockname()[1]),
            }},
            {"type": "final", "summary": "done"},
        ]  # fmt: skip

        def respond(body: dict) -> dict:
            step = sum(1 for m in body["messages"] if m["role"] == "assistant")
            return {"role": "assistant", "content": json.dumps(script[min(step, 1)])}

        out = tmp_path / "r.jsonl"
        with FakeAPI(respond) as api:
            proc = cli("run", *TASK, *openai(api), "--test-policy", "after_write", "--out", out)
            bodies = b"".join(r.body for r in api.requests)
        assert proc.returncode == 0, output(proc)
        with pytest.raises(TimeoutError):
            listener.accept()
    traces = (tmp_path / "r.traces.jsonl").read_text(encoding="utf-8")
    assert "HOSTILE RAN" in traces and "WRITE BLOCKED" in traces and "CONNECT BLOCKED" in traces
    assert "test runs sandboxed (bubblewrap)" in proc.stdout
    assert not outside.exists()
    written = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert written and not any(key.encode() in data for data in written)
    assert key.encode() not in bodies
