"""Constrained decoding through APIs (`constrain: json_schema`) against the real local fake
server acting as a strict structured-outputs server: what the request carries, how strict
replies come back into the protocol's shape, and what Together cannot do."""

from __future__ import annotations

import json

import pytest
import test_api_policies
from conftest import TEST_SANDBOX
from fake_api import FakeAPI, InvalidRequest, check_strict_schema, strict_responder
from test_api_policies import api_config, request, run_all

from repo_agent.policies.factory import make_policy
from repo_agent.policies.schemas import (
    action_schema,
    strict_response_format,
    strict_tools,
    unwrap_strict_content,
    unwrap_strict_native,
)
from repo_agent.records import FunctionCall, Message, NativeToolCall, ToolCallAction
from repo_agent.runtime.protocol import parse_json_action
from repo_agent.runtime.tools import TOOLS

# The API policy tests' own fixtures: keys in the environment (autouse) and their two tasks.
api_keys = test_api_policies.api_keys
tasks = test_api_policies.tasks


def chat_bodies(api: FakeAPI) -> list[dict]:
    return [json.loads(r.body) for r in api.calls("POST", "/v1/chat/completions")]


@pytest.mark.parametrize("kind", ["openai", "together"])
def test_json_protocol_sends_a_strict_schema_and_runs_succeed(kind: str, tasks) -> None:
    with FakeAPI(strict_responder(tasks, "json")) as api:
        policy = make_policy(api_config(api, kind, constrain="json_schema"), tasks, "json")
        runs = run_all(policy, tasks)
        bodies = chat_bodies(api)
    assert [line.result.success for _, line in runs] == [True, True]
    assert all(line.result.parse_errors == 0 for _, line in runs)
    for body in bodies:
        assert body["response_format"] == strict_response_format()
        assert "tools" not in body and "tool_choice" not in body
    # The trace holds the action in the protocol's own shape (nulls dropped), and that is what
    # the model sees again in the conversation.
    steps, _ = runs[0]
    first = json.loads(steps[0].raw_output.content or "")
    assert first["name"] == "list_files" and None not in first["args"].values()
    calls = [s.action for s in steps if isinstance(s.action, ToolCallAction)]
    assert calls and all(None not in c.args.values() for c in calls)
    sent = [m for m in bodies[-1]["messages"] if m["role"] == "assistant"]
    assert all(not m["content"].startswith('{"action"') for m in sent)


def test_native_protocol_sends_strict_tools_and_required_choice(tasks) -> None:
    with FakeAPI(strict_responder(tasks, "native")) as api:
        policy = make_policy(api_config(api, constrain="json_schema"), tasks, "native")
        runs = run_all(policy, tasks, protocol="native")
        bodies = chat_bodies(api)
    assert [line.result.success for _, line in runs] == [True, True]
    for body in bodies:
        assert body["tools"] == strict_tools() and body["tool_choice"] == "required"
    steps, line = runs[0]
    assert line.result.parse_errors == 0 and line.result.final_summary
    # The `final` call ends the run as the protocol's plain final message.
    assert steps[-1].raw_output.tool_calls is None
    assert steps[-1].raw_output.content == line.result.final_summary
    calls = [s.action for s in steps if isinstance(s.action, ToolCallAction)]
    assert calls and all(None not in c.args.values() for c in calls)  # nulls dropped


def test_together_native_constrained_is_a_clear_error(tasks) -> None:
    with FakeAPI() as api:
        cfg = api_config(api, "together", constrain="json_schema")
        with pytest.raises(ValueError, match=r"native protocol.*no `strict` field"):
            make_policy(cfg, tasks, "native")
        assert api.requests == []


def test_a_reply_cut_at_max_tokens_is_marked_truncated(tasks) -> None:
    def cut(body: dict) -> dict:
        return {
            "role": "assistant",
            "content": '{"action": {"type": "tool',
            "finish_reason": "length",
        }

    with FakeAPI(cut) as api:
        policy = make_policy(api_config(api, constrain="json_schema"), tasks, "json")
        [comp] = policy.complete([request()])
    assert comp.truncated and comp.message.content == '{"action": {"type": "tool'


def test_a_cached_constrained_reply_is_unwrapped_and_keeps_its_cut(tmp_path, tasks) -> None:
    replies = {
        "a": {"role": "assistant", "content": '{"action": {"type": "final", "summary": "ok"}}'},
        "b": {
            "role": "assistant",
            "content": '{"action": {"type": "fin',
            "finish_reason": "length",
        },
    }  # by the state's last message: requests a and b are sent concurrently
    with FakeAPI(lambda body: replies[body["messages"][-1]["content"]]) as api:
        cfg = api_config(api, constrain="json_schema", cache=True, cache_dir=str(tmp_path))
        policy = make_policy(cfg, tasks, "json")
        first = policy.complete([request("a"), request("b")])
        again = make_policy(cfg, tasks, "json").complete([request("a"), request("b")])
        assert len(api.calls("POST", "/v1/chat/completions")) == 2
    for comps in (first, again):
        assert comps[0].message.content == '{"type": "final", "summary": "ok"}'
        assert [c.truncated for c in comps] == [False, True]
    assert again[0].usage.cost_usd == 0 and again[0].usage.decode_s == first[0].usage.decode_s


def test_a_free_request_carries_no_schema(tasks) -> None:
    with FakeAPI() as api:
        make_policy(api_config(api), tasks, "json").complete([request()])
        [body] = chat_bodies(api)
    assert "response_format" not in body and "tool_choice" not in body


# --- the schemas themselves --------------------------------------------------------------------


def test_the_strict_schemas_meet_strict_mode_rules() -> None:
    check_strict_schema(strict_response_format()["json_schema"]["schema"])
    for tool in strict_tools():
        check_strict_schema(tool["function"]["parameters"])
    assert [t["function"]["name"] for t in strict_tools()] == [*TOOLS, "final"]
    with pytest.raises(InvalidRequest, match="root"):
        check_strict_schema(action_schema())  # the local engine's form is not strict-valid


def test_the_local_schema_accepts_every_valid_action_and_nothing_else() -> None:
    import jsonschema

    schema = action_schema(max_string_chars=50, max_content_chars=100)
    ok = [
        {"type": "tool_call", "name": "list_files", "args": {}},
        {"type": "tool_call", "name": "read_file", "args": {"rel_path": "a.py", "max_chars": 9}},
        {"type": "tool_call", "name": "grep", "args": {"pattern": "x", "thought": "t"}},
        {"type": "tool_call", "name": "write_file", "args": {"rel_path": "a", "content": "b\n"}},
        {"type": "final", "summary": "done"},
    ]
    bad = [
        {"type": "tool_call", "name": "read_file", "args": {}},  # missing_arg
        {"type": "tool_call", "name": "run", "args": {}},  # unknown_tool
        {"type": "tool_call", "name": "list_files", "args": {"x": "1"}},  # unknown_arg
        {"type": "tool_call", "name": "read_file", "args": {"rel_path": 1}},  # bad_arg_type
        {"type": "final"},  # bad_summary
        {"type": "final", "summary": "s", "extra": 1},
        {
            "type": "tool_call",
            "name": "write_file",
            "args": {"rel_path": "a", "content": "b" * 101},
        },
    ]
    for action in ok:
        jsonschema.validate(action, schema)
        assert not hasattr(parse_json_action(json.dumps(action)), "code")
    for action in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(action, schema)


def test_unwrapping_strict_replies() -> None:
    wrapped = '{"action": {"type": "tool_call", "name": "read_file", "args": {"rel_path": "a.py", "max_chars": null, "thought": null}}}'  # noqa: E501
    assert json.loads(unwrap_strict_content(wrapped)) == {
        "type": "tool_call",
        "name": "read_file",
        "args": {"rel_path": "a.py"},
    }
    for text in ("not json", '{"type": "final", "summary": "x"}', '{"action": 1, "x": 2}'):
        assert unwrap_strict_content(text) == text  # left for the protocol to judge
    # A duplicate key stays visible to the protocol's duplicate_key check.
    dup = '{"action": {"type": "final", "summary": "a", "summary": "b"}}'
    assert unwrap_strict_content(dup) == dup

    def native(name: str, arguments: str) -> Message:
        call = NativeToolCall(id="c1", function=FunctionCall(name=name, arguments=arguments))
        return Message(role="assistant", content="", tool_calls=[call])

    final = unwrap_strict_native(native("final", '{"summary": "fixed it"}'))
    assert final.tool_calls is None and final.content == "fixed it"
    grep = unwrap_strict_native(native("grep", '{"pattern": "x", "rel_dir": null, "max_hits": 3}'))
    assert json.loads(grep.tool_calls[0].function.arguments) == {"pattern": "x", "max_hits": 3}
    broken = native("grep", '{"pattern": ')
    assert unwrap_strict_native(broken) == broken


# --- the CLI -----------------------------------------------------------------------------------


def cli(*args: str):
    from typer.testing import CliRunner

    from repo_agent.cli.app import app

    return CliRunner().invoke(app, ["run", "--task", "a_binary_search", *args])


def test_cli_constrain_option_reaches_the_request_and_the_settings(
    tmp_path, tasks, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with FakeAPI(strict_responder(tasks, "native")) as api:
        base = ["--policy", "openai", "--model", "m", "--base-url", f"{api.url}/v1"]
        base += ["--tool-protocol", "native", "--no-cache", "--out", "runs.jsonl"]
        base += ["--sandbox", TEST_SANDBOX]
        result = cli(*base, "--constrain", "json_schema")
        assert result.exit_code == 0, result.output
        assert all(b["tool_choice"] == "required" for b in chat_bodies(api))
        # A resume with free decoding is a different run: refused, naming the setting.
        again = cli(*base)
    assert json.loads((tmp_path / "runs.jsonl").read_text().splitlines()[0])["success"] is True
    assert json.loads((tmp_path / "runs.settings.json").read_text())["constrain"] == "json_schema"
    assert again.exit_code == 2 and "constrain 'json_schema' → 'none'" in again.output


def test_cli_constrain_with_the_oracle_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("--constrain", "json_schema")
    assert result.exit_code == 2
    assert "--constrain: not an option of --policy oracle" in result.output
