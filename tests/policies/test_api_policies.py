"""API policies (openai, together) against a real local HTTP server: full runs under both tool
protocols, retries and faults, the response cache, cost accounting, and no key leaks."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from conftest import TEST_SANDBOX, fake_key
from fake_api import FakeAPI, Fault, oracle_responder
from typer.testing import CliRunner

from repo_agent.cli.app import app
from repo_agent.policies.cache import ResponseCache, cache_key
from repo_agent.policies.config import OpenAIConfig, PolicyConfig, TogetherConfig, parse_policy
from repo_agent.policies.factory import make_policy
from repo_agent.records import Message, ResultLine, StepRecord, Usage
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.task import Task, TaskSpec
from repo_agent.secrets import scrub
from repo_agent.traces import TraceWriter

OPENAI_KEY = fake_key("sk-test-", 11, 20)
TOGETHER_KEY = fake_key("together-test-", 12, 20)
SK_LIKE = fake_key("sk-", 13, 16)  # an unregistered key of the `sk-` shape
TASKS = ["a_binary_search", "a_gcd_lcm"]


@pytest.fixture(autouse=True)
def api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("TOGETHER_API_KEY", TOGETHER_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("TOGETHER_BASE_URL", raising=False)


@pytest.fixture
def tasks(task_by_id: dict[str, Task]) -> list[Task]:
    return [task_by_id[t] for t in TASKS]


def api_config(api: FakeAPI, kind: str = "openai", **kw: object) -> PolicyConfig:
    base = f"{api.url}/v1" if kind == "openai" else api.url  # Together's paths carry /v1
    defaults = dict(
        kind=kind,
        model="test-model",
        base_url=base,
        cache=False,
        max_retries=2,
        retry_base_s=0.001,
        retry_max_s=0.01,
        timeout_s=5.0,
    )
    return parse_policy({**defaults, **kw})


def request(text: str = "fix it", seed: int = 0) -> PolicyRequest:
    msgs = [Message(role="system", content="sys"), Message(role="user", content=text)]
    return PolicyRequest(task_id="t", run_id="r", seed=seed, messages=msgs)


def run_all(policy, tasks: list[Task], protocol: str = "json", writer: TraceWriter | None = None):
    config = AgentConfig(
        tool_protocol=protocol, test_policy="on_final", max_steps=8, sandbox=TEST_SANDBOX
    )
    out: list[tuple[list[StepRecord], ResultLine]] = []

    def done(steps: list[StepRecord], line: ResultLine) -> None:
        out.append((steps, line))
        if writer is not None:
            writer.write_run(steps, line)

    specs = [RunSpec(t, f"{t.id}:{policy.name}:0") for t in tasks]
    run_episodes(specs, policy, config, done)
    return sorted(out, key=lambda o: o[1].result.task_id)


# --- full runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["openai", "together"])
def test_json_protocol_runs_succeed_with_cost(kind: str, tasks: list[Task]) -> None:
    with FakeAPI(oracle_responder(tasks, "json")) as api:
        cfg = api_config(
            api, kind, json_mode=True, price_input_per_mtok=2.0, price_output_per_mtok=8.0
        )
        runs = run_all(make_policy(cfg, tasks, "json"), tasks)
        chats = api.calls("POST", "/v1/chat/completions")
    assert [line.result.success for _, line in runs] == [True, True]
    body = json.loads(chats[0].body)
    assert body["response_format"] == {"type": "json_object"}
    assert body["model"] == "test-model" and "tools" not in body
    assert (
        chats[0].headers["authorization"]
        == f"Bearer {OPENAI_KEY if kind == 'openai' else TOGETHER_KEY}"
    )
    for steps, line in runs:
        per_step = (100 * 2.0 + 20 * 8.0) / 1e6
        assert line.usage.prompt_tokens == 100 * len(steps)
        assert line.usage.cost_usd == pytest.approx(per_step * len(steps))


def test_native_protocol_records_tool_calls(tasks: list[Task]) -> None:
    with FakeAPI(oracle_responder(tasks, "native")) as api:
        policy = make_policy(api_config(api, json_mode=True), tasks, "native")
        runs = run_all(policy, tasks[:1], protocol="native")
        body = json.loads(api.calls("POST", "/v1/chat/completions")[-1].body)
    steps, line = runs[0]
    assert line.result.success and line.result.parse_errors == 0
    assert {t["function"]["name"] for t in body["tools"]} >= {"read_file", "write_file"}
    assert "response_format" not in body  # tools and JSON mode do not mix
    first = steps[0].raw_output
    assert first.tool_calls and first.tool_calls[0].function.name == "list_files"
    assert steps[0].action is not None and steps[0].action.name == "list_files"
    later = steps[-1].messages
    tool_msgs = [m for m in later if m.role == "tool"]
    assert tool_msgs and all(m.tool_call_id for m in tool_msgs)
    sent = [m for m in body["messages"] if m["role"] in ("assistant", "tool")]
    assert sent[0]["tool_calls"][0]["id"] == sent[1]["tool_call_id"]


# --- faults ------------------------------------------------------------------------------------


def test_429_then_success() -> None:
    with FakeAPI() as api:
        api.fail("chat", Fault(429, "rate limited", headers={"Retry-After": "0"}))
        policy = make_policy(api_config(api), [], "json")
        [comp] = policy.complete([request()])
        assert len(api.calls("POST", "/v1/chat/completions")) == 2
    assert comp.error is None and "final" in (comp.message.content or "")
    assert policy.stats.retries == 1


def test_500_is_retried_then_ends_only_its_run(tasks: list[Task]) -> None:
    with FakeAPI(oracle_responder(tasks, "json")) as api:
        api.fail("chat", *[Fault(500, "upstream exploded")] * 3)
        policy = make_policy(api_config(api, max_retries=2, concurrency=1), tasks, "json")
        runs = run_all(policy, tasks)
    failed, ok = runs[0][1].result, runs[1][1].result
    assert failed.error == (
        "policy error: openai test-model: HTTP 500: upstream exploded (after 3 attempts)"
    )
    assert not failed.success and failed.steps == 0
    assert ok.success and ok.error is None


def test_timeout_then_success_and_timeout_error() -> None:
    with FakeAPI() as api:
        policy = make_policy(api_config(api, timeout_s=0.5, max_retries=1), [], "json")
        api.fail("chat", Fault(status=0, delay_s=1.2))
        [ok] = policy.complete([request()])
        api.fail("chat", Fault(status=0, delay_s=1.2), Fault(status=0, delay_s=1.2))
        [bad] = policy.complete([request("other")])
    assert ok.error is None
    assert bad.error == "openai test-model: request timed out after 0.5s (after 2 attempts)"


@pytest.mark.parametrize(
    "fault",
    [
        Fault(200, raw=b'{"choices": [tru'),
        Fault(200, raw=b"<html>busy</html>", content_type="text/html"),
    ],
)
def test_malformed_body_is_a_clear_error(fault: Fault) -> None:
    with FakeAPI() as api:
        api.fail("chat", fault)
        [comp] = make_policy(api_config(api), [], "json").complete([request()])
        assert len(api.calls("POST", "/v1/chat/completions")) == 1  # not retried
    assert comp.error is not None and "malformed response body" in comp.error
    assert comp.message.role == "assistant" and comp.message.content == ""


def test_connection_refused_is_retried_then_a_clear_error() -> None:
    with FakeAPI() as api:
        cfg = api_config(api)  # the server stops at the end of the block: nothing listens
    [comp] = make_policy(cfg, [], "json").complete([request()])
    assert comp.error is not None
    assert comp.error.startswith("openai test-model: connection error")
    assert comp.error.endswith("(after 3 attempts)")


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        make_policy(OpenAIConfig(model="gpt-4.1-mini"), [], "json")
    with pytest.raises(ValueError, match="MY_KEY"):
        make_policy(TogetherConfig(model="m", api_key_env="MY_KEY"), [], "json")
    # A local OpenAI-compatible server needs no key.
    with FakeAPI() as api:
        [comp] = make_policy(api_config(api), [], "json").complete([request()])
        assert api.requests[0].headers["authorization"] == "Bearer no-key"
    assert comp.error is None


# --- cache, concurrency -------------------------------------------------------------------------


def test_cache_reuses_responses_and_can_be_bypassed(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    with FakeAPI() as api:
        cfg = api_config(api, cache=True, cache_dir=str(cache_dir), price_input_per_mtok=1.0)
        first = make_policy(cfg, [], "json").complete([request()])[0]
        again = make_policy(cfg, [], "json")
        second = again.complete([request()])[0]
        assert len(api.calls("POST", "/v1/chat/completions")) == 1
        assert again.stats.cache_hits == 1
        make_policy(cfg.model_copy(update={"cache": False}), [], "json").complete([request()])
        make_policy(cfg, [], "json").complete([request("a different state")])
        assert len(api.calls("POST", "/v1/chat/completions")) == 3
    assert second.message == first.message
    assert second.usage.prompt_tokens == first.usage.prompt_tokens and second.usage.cost_usd == 0
    assert len(list(cache_dir.rglob("*.json"))) == 2


def test_cache_key_covers_model_messages_tools_and_sampling() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0.0}
    key = cache_key("openai@u", body)
    assert key == cache_key("openai@u", dict(reversed(body.items())))
    for change in (
        {"model": "n"},
        {"temperature": 0.7},
        {"tools": []},
        {"seed": 1},
        {"messages": [{"role": "user", "content": "y"}]},
    ):
        assert cache_key("openai@u", {**body, **change}) != key
    assert cache_key("together@u", body) != key


def test_requests_run_concurrently_and_stay_in_order() -> None:
    with FakeAPI(
        lambda body: {"role": "assistant", "content": body["messages"][1]["content"]}
    ) as api:
        api.latency_s = 0.3
        policy = make_policy(api_config(api, concurrency=8), [], "json")
        start = time.monotonic()
        comps = policy.complete([request(f"state {i}") for i in range(8)])
        elapsed = time.monotonic() - start
    assert [c.message.content for c in comps] == [f"state {i}" for i in range(8)]
    assert elapsed < 1.2  # serial would take 2.4 s; generous for a loaded CI machine


# --- secrets -----------------------------------------------------------------------------------


def test_scrub_removes_keys() -> None:
    text = f"key {OPENAI_KEY} / Bearer abc.def / {SK_LIKE} / {TOGETHER_KEY}"
    out = scrub(text)
    assert OPENAI_KEY not in out and TOGETHER_KEY not in out and "abc.def" not in out
    assert SK_LIKE not in out


def test_keys_never_reach_errors_logs_traces_results_or_cache(
    tmp_path: Path, tasks: list[Task], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeAPI(oracle_responder(tasks, "json")) as api:
        cfg = api_config(api, cache=True, cache_dir=str(tmp_path / "cache"), concurrency=1)
        api.fail("chat", Fault(500, f"echo {OPENAI_KEY}"), Fault(401, "bad key", echo_auth=True))
        writer = TraceWriter(tmp_path / "runs.traces.jsonl", results_path=tmp_path / "runs.jsonl")
        runs = run_all(make_policy(cfg, tasks, "json"), tasks, writer=writer)
        assert OPENAI_KEY in api.requests[0].headers["authorization"]  # the key was used
    error = runs[0][1].result.error or ""
    assert error.startswith("policy error: openai test-model: HTTP 401: bad key")
    assert runs[1][1].result.success
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" for p in written)  # cache entries exist
    for path in written:
        assert OPENAI_KEY not in path.read_text(encoding="utf-8"), path
    assert OPENAI_KEY not in caplog.text and "retrying" in caplog.text


def test_cli_run_with_api_options(
    tmp_path: Path, tasks: list[Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with FakeAPI(oracle_responder(tasks, "native")) as api:
        args = [
            "run",
            "--task",
            "a_binary_search",
            "--policy",
            "openai",
            "--model",
            "m",
            "--tool-protocol",
            "native",
            "--base-url",
            f"{api.url}/v1",
            "--no-cache",
            "--concurrency",
            "2",
            "--out",
            "runs.jsonl",
            "--sandbox",
            TEST_SANDBOX,
        ]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert api.calls("POST", "/v1/chat/completions")
    assert json.loads((tmp_path / "runs.jsonl").read_text().splitlines()[0])["success"] is True
    assert not (tmp_path / "cache").exists()  # --no-cache: nothing read or written


PROJ_KEY = fake_key("sk-proj-", 1)
LEAKS = (PROJ_KEY, PROJ_KEY.removeprefix("sk-proj-"), PROJ_KEY[10:25], PROJ_KEY[-12:])


def leaky_task(tmp_path: Path) -> Task:
    root = tmp_path / "repo"
    files = {
        "app.py": "def f():\n    return 1\n",
        "settings.env": f"OPENAI_API_KEY={PROJ_KEY}\n",
        "tests/test_app.py": "from app import f\n\n\ndef test_f():\n    assert f() == 2\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    spec = TaskSpec(
        id="leaky", goal="Fix app.py.", difficulty="easy", category="hostile",
        expected_files=["app.py"], test_cmd="python -m pytest -q tests",
    )  # fmt: skip
    return Task(spec=spec, files={rel: root / rel for rel in files}, fix=None)


def echoing_model(body: dict) -> dict:
    """A model that makes its tests print the key, reads it from a file, then echoes it whole,
    without its prefix and in part."""
    leak_test = (
        "import os\n\n\ndef test_leak():\n"
        "    assert False, (os.environ.get('OPENAI_API_KEY'), open('settings.env').read())\n"
    )
    echo = f"{PROJ_KEY} / {LEAKS[1]} / {LEAKS[2]}"
    script = [
        {"type": "tool_call", "name": "write_file",
         "args": {"rel_path": "tests/test_leak.py", "content": leak_test}},
        {"type": "tool_call", "name": "read_file", "args": {"rel_path": "settings.env"}},
        {"type": "tool_call", "name": "list_files", "args": {"thought": f"key: {echo}"}},
        {"type": "final", "summary": f"the key is {echo}"},
    ]  # fmt: skip
    turn = sum(m["role"] == "assistant" for m in body["messages"])
    return {"role": "assistant", "content": json.dumps(script[min(turn, len(script) - 1)])}


def test_an_echoed_or_printed_key_reaches_no_file_and_no_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PROJ_KEY)
    caplog.set_level(logging.DEBUG)
    task = leaky_task(tmp_path)
    out = tmp_path / "out"
    with FakeAPI(echoing_model) as api:
        cfg = api_config(api, cache=True, cache_dir=str(out / "cache"), concurrency=1)
        writer = TraceWriter(out / "runs.traces.jsonl", results_path=out / "runs.jsonl")
        config = AgentConfig(test_policy="after_write", max_steps=8, sandbox=TEST_SANDBOX)
        run_episodes(
            [RunSpec(task, "leaky:0")], make_policy(cfg, [task], "json"), config, writer.write_run
        )
        chats = api.calls("POST", "/v1/chat/completions")
    assert len(chats) == 4
    assert chats[0].headers["authorization"] == f"Bearer {PROJ_KEY}"  # the key was in use
    for req in chats:
        body = req.body.decode()
        assert [x for x in LEAKS if x in body] == [], body
    assert "OPENAI_API_KEY=***" in chats[2].body.decode()  # the read came back, masked
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len([p for p in written if p.suffix == ".json"]) == 4  # cache entries
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert [x for x in LEAKS if x in text] == [], path
    result = json.loads((out / "runs.jsonl").read_text().splitlines()[0])
    assert result["final_summary"] == "the key is *** / *** / ***"
    assert [x for x in LEAKS if x in caplog.text] == []


def test_the_cache_stores_a_scrubbed_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PROJ_KEY)
    cache = ResponseCache(tmp_path)
    msg = Message(role="assistant", content=f"echo {PROJ_KEY[8:30]}")
    cache.put("ab" + "0" * 62, "openai", "m", msg, Usage())
    [path] = tmp_path.rglob("*.json")
    assert PROJ_KEY[8:30] not in path.read_text(encoding="utf-8")
    hit = cache.get("ab" + "0" * 62)
    assert hit is not None and hit[0].content == "echo ***"


def test_a_custom_key_env_is_scrubbed_too(monkeypatch: pytest.MonkeyPatch) -> None:
    custom = "corp-9Fh2Kd8Lq3Zm7Xn4Bv6C"
    monkeypatch.setenv("CORP_LLM_KEY", custom)
    with FakeAPI(lambda body: {"role": "assistant", "content": f"echo {custom[5:]}"}) as api:
        policy = make_policy(api_config(api, api_key_env="CORP_LLM_KEY"), [], "json")
        api.fail("chat", Fault(401, "bad key", echo_auth=True))
        [bad] = policy.complete([request()])
        [echo] = policy.complete([request("again")])
        assert api.requests[0].headers["authorization"] == f"Bearer {custom}"
    assert custom not in (bad.error or "") and "bad key (got ***)" in (bad.error or "")
    assert echo.message.content == "echo ***"
    assert scrub(f"later: {custom[2:16]}") == "later: ***"  # registered for every scrub
