"""The strict JSON protocol: every parse-error code, native calls, context fitting, fuzzing."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repo_agent.records import FinalAction, Message, NativeToolCall, ToolCallAction
from repo_agent.runtime.protocol import (
    EXPECTED_SHAPE,
    PROTOCOL_ERROR_PREFIX,
    REFLECTION_PREFIX,
    TOOL_RESULT_PREFIX,
    ParseError,
    ParseErrorCode,
    action_message,
    error_messages,
    executed_calls,
    fit_context,
    observation_messages,
    parse_action,
    parse_json_action,
    parse_native_action,
    parse_observation,
    render_action,
    system_prompt,
)
from repo_agent.runtime.tools import TOOLS

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tool_call(name: str, **args: object) -> str:
    return json.dumps({"type": "tool_call", "name": name, "args": args})


def native(name: str, arguments: str, call_id: str = "call_1") -> Message:
    return Message(
        role="assistant",
        content="",
        tool_calls=[NativeToolCall(id=call_id, function={"name": name, "arguments": arguments})],
    )


# --- one case (at least) per parse-error code -------------------------------------------------

ERROR_CASES = [
    ('{"type":"tool_call"', ParseErrorCode.INVALID_JSON),
    ("I will read the file now.", ParseErrorCode.INVALID_JSON),
    ("{'type': 'final', 'summary': 'single quotes'}", ParseErrorCode.INVALID_JSON),
    ('{"type":"final","summary":"x",}', ParseErrorCode.INVALID_JSON),
    ("[1, 2]", ParseErrorCode.NOT_ONE_OBJECT),
    ('"just a string"', ParseErrorCode.NOT_ONE_OBJECT),
    ("42", ParseErrorCode.NOT_ONE_OBJECT),
    ("null", ParseErrorCode.NOT_ONE_OBJECT),
    ('Sure! {"type":"final","summary":"done"}', ParseErrorCode.NOT_ONE_OBJECT),
    (
        '{"type":"final","summary":"a"}\n{"type":"final","summary":"b"}',
        ParseErrorCode.NOT_ONE_OBJECT,
    ),
    ('```json\n{"type":"final","summary":"a"}\n```', ParseErrorCode.NOT_ONE_OBJECT),
    ('{"type":"call","name":"grep","args":{"pattern":"x"}}', ParseErrorCode.BAD_TYPE),
    ('{"name":"grep","args":{"pattern":"x"}}', ParseErrorCode.BAD_TYPE),
    ('{"type":["final"],"summary":"x"}', ParseErrorCode.BAD_TYPE),
    ('{"type":"tool_call","name":"run_shell","args":{"cmd":"ls"}}', ParseErrorCode.UNKNOWN_TOOL),
    ('{"type":"tool_call","name":5,"args":{}}', ParseErrorCode.UNKNOWN_TOOL),
    ('{"type":"tool_call","args":{}}', ParseErrorCode.UNKNOWN_TOOL),
    ('{"type":"tool_call","name":"read_file","args":{}}', ParseErrorCode.MISSING_ARG),
    ('{"type":"tool_call","name":"read_file"}', ParseErrorCode.MISSING_ARG),
    (
        '{"type":"tool_call","name":"write_file","args":{"rel_path":"a.py"}}',
        ParseErrorCode.MISSING_ARG,
    ),
    ('{"type":"tool_call","name":"grep","args":{"rel_dir":"."}}', ParseErrorCode.MISSING_ARG),
    (tool_call("read_file", rel_path="a.py", max_chars="100"), ParseErrorCode.BAD_ARG_TYPE),
    (tool_call("read_file", rel_path="a.py", max_chars=True), ParseErrorCode.BAD_ARG_TYPE),
    (tool_call("read_file", rel_path="a.py", max_chars=1.5), ParseErrorCode.BAD_ARG_TYPE),
    (tool_call("read_file", rel_path=["a.py"]), ParseErrorCode.BAD_ARG_TYPE),
    (tool_call("write_file", rel_path="a.py", content=None), ParseErrorCode.BAD_ARG_TYPE),
    (tool_call("list_files", thought=3), ParseErrorCode.BAD_ARG_TYPE),
    ('{"type":"tool_call","name":"list_files","args":["."]}', ParseErrorCode.BAD_ARG_TYPE),
    (tool_call("read_file", path="a.py"), ParseErrorCode.MISSING_ARG),
    (tool_call("read_file", rel_path="a.py", path="a.py"), ParseErrorCode.UNKNOWN_ARG),
    (tool_call("list_files", recursive=True), ParseErrorCode.UNKNOWN_ARG),
    ('{"type":"tool_call","name":"list_files","args":{},"id":1}', ParseErrorCode.UNKNOWN_ARG),
    ('{"type":"final","summary":"x","confidence":1}', ParseErrorCode.UNKNOWN_ARG),
    ('{"type":"final"}', ParseErrorCode.BAD_SUMMARY),
    ('{"type":"final","summary":5}', ParseErrorCode.BAD_SUMMARY),
    ('{"type":"final","summary":null}', ParseErrorCode.BAD_SUMMARY),
    ("", ParseErrorCode.EMPTY),
    ("   \n\t ", ParseErrorCode.EMPTY),
    (None, ParseErrorCode.EMPTY),
    # json.loads keeps the last of two equal keys: this would pass as a list_files call.
    (
        '{"type":"final","type":"tool_call","name":"list_files","args":{}}',
        ParseErrorCode.DUPLICATE_KEY,
    ),
]


@pytest.mark.parametrize(("content", "code"), ERROR_CASES)
def test_parse_error_codes(content: str | None, code: ParseErrorCode) -> None:
    out = parse_json_action(content)
    assert isinstance(out, ParseError), out
    assert out.code == code, out.detail
    assert out.detail


def test_every_error_code_is_covered() -> None:
    # `truncated` is set by the agent from the completion (tests/runtime/test_agent.py).
    assert {code for _, code in ERROR_CASES} == set(ParseErrorCode) - {ParseErrorCode.TRUNCATED}


def test_corrective_message_names_the_code_and_shows_the_shape() -> None:
    err = parse_json_action('{"type":"tool_call","name":"nope","args":{}}')
    assert isinstance(err, ParseError)
    msg = err.message()
    assert msg.startswith(f"{PROTOCOL_ERROR_PREFIX} unknown_tool:")
    assert "'nope'" in msg and "list_files" in msg
    assert EXPECTED_SHAPE in msg


def test_error_details_name_the_problem() -> None:
    missing = parse_json_action(tool_call("write_file", rel_path="a.py"))
    assert isinstance(missing, ParseError) and "content" in missing.detail
    wrong = parse_json_action(tool_call("read_file", rel_path="a.py", max_chars="9"))
    assert isinstance(wrong, ParseError) and "max_chars" in wrong.detail and "int" in wrong.detail
    extra = parse_json_action(tool_call("grep", pattern="x", flags="i"))
    assert isinstance(extra, ParseError) and "flags" in extra.detail


# --- valid actions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "args"),
    [
        ('{"type":"tool_call","name":"list_files","args":{}}', "list_files", {}),
        ('{"type":"tool_call","name":"list_files"}', "list_files", {}),
        (tool_call("list_files", rel_dir="tests"), "list_files", {"rel_dir": "tests"}),
        (tool_call("read_file", rel_path="a.py"), "read_file", {"rel_path": "a.py"}),
        (
            tool_call("read_file", rel_path="a.py", max_chars=100),
            "read_file",
            {"rel_path": "a.py", "max_chars": 100},
        ),
        (
            tool_call("grep", pattern=r"def \w+", rel_dir=".", max_hits=5),
            "grep",
            {"pattern": r"def \w+", "rel_dir": ".", "max_hits": 5},
        ),
        (
            tool_call("write_file", rel_path="a.py", content="x = 1\n"),
            "write_file",
            {"rel_path": "a.py", "content": "x = 1\n"},
        ),
        (
            '  \n {"type":"tool_call","name":"list_files","args":{}}  \n',
            "list_files",
            {},
        ),
    ],
)
def test_valid_tool_calls(content: str, name: str, args: dict) -> None:
    out = parse_json_action(content)
    assert out == ToolCallAction(name=name, args=args)


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_thought_is_accepted_on_every_tool(name: str) -> None:
    args = {a.name: ("x" if a.type is str else 3) for a in TOOLS[name].args if a.required}
    args["thought"] = "first I look around"
    out = parse_json_action(tool_call(name, **args))
    assert isinstance(out, ToolCallAction)
    assert out.args["thought"] == "first I look around"


def test_valid_final() -> None:
    assert parse_json_action('{"type":"final","summary":"Fixed it."}') == FinalAction(
        summary="Fixed it."
    )
    assert parse_json_action('{"summary":"","type":"final"}') == FinalAction(summary="")


def test_huge_integer_is_a_parse_error_not_a_crash() -> None:
    # Python refuses ints over 4300 digits with ValueError (not JSONDecodeError).
    digits = "1" * 5000
    args = '{"rel_path":"a","max_chars":' + digits + "}"
    content = '{"type":"tool_call","name":"read_file","args":' + args + "}"
    assert isinstance(parse_json_action(content), ParseError)
    assert isinstance(parse_json_action(digits), ParseError)
    assert isinstance(parse_json_action('see {"a":' + digits + "}"), ParseError)
    assert isinstance(parse_native_action(native("read_file", args)), ParseError)


def test_lone_surrogate_is_a_parse_error() -> None:
    # It decodes, but no UTF-8 trace could record it.
    out = parse_json_action(
        '{"type":"tool_call","name":"write_file","args":{"rel_path":"a.py","content":"\\ud800"}}'
    )
    assert isinstance(out, ParseError)
    assert isinstance(parse_json_action('{"type":"final","summary":"\\udfff"}'), ParseError)
    # A proper surrogate pair is an ordinary character.
    ok = parse_json_action('{"type":"final","summary":"\\ud83d\\ude00"}')
    assert ok == FinalAction(summary="\U0001f600")


def test_deep_nesting_is_a_parse_error() -> None:
    assert isinstance(parse_json_action("[" * 100_000 + "]" * 100_000), ParseError)
    assert isinstance(parse_json_action('{"a":' * 50_000 + "1" + "}" * 50_000), ParseError)


# --- native protocol ---------------------------------------------------------------------------


def test_native_tool_call() -> None:
    out = parse_native_action(native("read_file", '{"rel_path":"a.py","thought":"look"}'))
    assert out == ToolCallAction(name="read_file", args={"rel_path": "a.py", "thought": "look"})
    assert parse_action(native("list_files", ""), "native") == ToolCallAction(
        name="list_files", args={}
    )


def test_native_final_is_plain_content() -> None:
    msg = Message(role="assistant", content="Fixed the off-by-one.")
    assert parse_native_action(msg) == FinalAction(summary="Fixed the off-by-one.")
    assert parse_action(msg, "native") == FinalAction(summary="Fixed the off-by-one.")


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (Message(role="assistant", content=""), ParseErrorCode.EMPTY),
        (Message(role="assistant", content=None), ParseErrorCode.EMPTY),
        (native("read_file", "{not json"), ParseErrorCode.INVALID_JSON),
        (native("read_file", "[1]"), ParseErrorCode.BAD_ARG_TYPE),
        (native("shell", "{}"), ParseErrorCode.UNKNOWN_TOOL),
        (native("read_file", "{}"), ParseErrorCode.MISSING_ARG),
        (native("read_file", '{"rel_path":1}'), ParseErrorCode.BAD_ARG_TYPE),
        (native("list_files", '{"dir":"."}'), ParseErrorCode.UNKNOWN_ARG),
        (
            native("read_file", '{"rel_path":"a.py","rel_path":"b.py"}'),
            ParseErrorCode.DUPLICATE_KEY,
        ),
        (
            Message(
                role="assistant",
                content="",
                tool_calls=[
                    NativeToolCall(id="a", function={"name": "list_files", "arguments": "{}"}),
                    NativeToolCall(id="b", function={"name": "list_files", "arguments": "{}"}),
                ],
            ),
            ParseErrorCode.NOT_ONE_OBJECT,
        ),
    ],
)
def test_native_errors(message: Message, code: ParseErrorCode) -> None:
    out = parse_native_action(message)
    assert isinstance(out, ParseError) and out.code == code


@pytest.mark.parametrize(
    "content",
    [
        '{"type":"final","summary":"a","summary":"b"}',
        '{"type":"tool_call","name":"grep","name":"read_file","args":{"rel_path":"a.py"}}',
        '{"type":"tool_call","name":"read_file","args":{"rel_path":"a.py"},"args":{}}',
        '{"type":"tool_call","name":"read_file","args":{"rel_path":"a.py","rel_path":"b.py"}}',
        # Any level, even where the value is wrong anyway; thought counts too.
        '{"type":"tool_call","name":"read_file","args":{"rel_path":{"x":1,"x":2}}}',
        '{"type":"tool_call","name":"list_files","args":{"thought":"a","thought":"b"}}',
        # Keys equal once decoded are equal: "\\u0074ype" is "type".
        '{"type":"final","\\u0074ype":"final","summary":"x"}',
    ],
)
def test_duplicate_keys_at_any_level_are_rejected(content: str) -> None:
    out = parse_json_action(content)
    assert isinstance(out, ParseError) and out.code == ParseErrorCode.DUPLICATE_KEY, out
    assert "appears twice" in out.message()


def test_equal_values_under_different_keys_are_fine() -> None:
    out = parse_json_action('{"type":"final","summary":"final"}')
    assert out == FinalAction(summary="final")


def test_json_protocol_ignores_native_calls() -> None:
    # Under `json`, only the content counts.
    out = parse_action(native("list_files", "{}"), "json")
    assert isinstance(out, ParseError) and out.code == ParseErrorCode.EMPTY


def test_action_message_shapes() -> None:
    call = ToolCallAction(name="grep", args={"pattern": "x"})
    json_msg = action_message(call, "json")
    assert json_msg.tool_calls is None and json.loads(json_msg.content) == {
        "type": "tool_call",
        "name": "grep",
        "args": {"pattern": "x"},
    }
    nat = action_message(call, "native", call_id="call_7")
    assert nat.tool_calls and nat.tool_calls[0].id == "call_7"
    assert parse_native_action(nat) == call
    fin = FinalAction(summary="done")
    assert action_message(fin, "native") == Message(role="assistant", content="done")
    assert parse_json_action(action_message(fin, "json").content) == fin


def test_system_prompts_differ_by_protocol() -> None:
    assert '"type":"tool_call"' in system_prompt("json")
    assert "tool_call" not in system_prompt("native")


# --- observations and executed calls -----------------------------------------------------------


def test_observation_messages_and_parse_observation() -> None:
    [user] = observation_messages("json", "grep", "a.py:1: x", None)
    assert user.role == "user" and user.content.startswith(TOOL_RESULT_PREFIX)
    assert parse_observation(user) == ("grep", "a.py:1: x")
    [tool] = observation_messages("native", "grep", "a.py:1: x", "call_3")
    assert tool == Message(role="tool", tool_call_id="call_3", content="a.py:1: x")
    assert parse_observation(tool) is None
    assert parse_observation(Message(role="user", content="Task: fix")) is None


def test_error_messages_answer_every_native_call() -> None:
    calls = [NativeToolCall(id=i, function={"name": "rm", "arguments": "{}"}) for i in ("c1", "c2")]
    native = Message(role="assistant", content="", tool_calls=calls)
    assert error_messages("native", native, "bad") == [
        Message(role="tool", tool_call_id="c1", content="bad"),
        Message(role="tool", tool_call_id="c2", content="bad"),
    ]
    # JSON protocol, or a native reply without calls: one user message.
    for protocol in ("json", "native"):
        plain = Message(role="assistant", content="hi")
        assert error_messages(protocol, plain, "bad") == [Message(role="user", content="bad")]
    assert error_messages("json", native, "bad") == [Message(role="user", content="bad")]


def test_executed_calls_skip_errors_and_reflections() -> None:
    read = ToolCallAction(name="read_file", args={"rel_path": "a.py", "max_chars": 50})
    tiny = ToolCallAction(name="read_file", args={"rel_path": "a.py", "max_chars": 10})
    msgs = [
        Message(role="system", content="s"),
        Message(role="user", content="Task: t"),
        Message(role="assistant", content="garbage"),
        Message(role="user", content=f"{PROTOCOL_ERROR_PREFIX} invalid_json: ..."),
        action_message(read, "json"),
        observation_messages("json", "read_file", "def f():", None)[0],
        action_message(tiny, "json"),
        observation_messages("json", "read_file", f"{REFLECTION_PREFIX} Loop detected", None)[0],
        action_message(FinalAction(summary="x"), "json"),
    ]
    assert executed_calls(msgs, "json") == [(read, "def f():")]

    nat = [
        msgs[0],
        msgs[1],
        action_message(read, "native", "c1"),
        Message(role="tool", tool_call_id="c1", content="def f():"),
        action_message(tiny, "native", "c2"),
        Message(role="tool", tool_call_id="c2", content=f"{REFLECTION_PREFIX} Loop detected"),
    ]
    assert executed_calls(nat, "native") == [(read, "def f():")]


# --- fit_context -------------------------------------------------------------------------------


def conversation(turns: int, obs_chars: int = 300) -> list[Message]:
    msgs = [Message(role="system", content="S" * 50), Message(role="user", content="Task: fix")]
    for i in range(turns):
        call = ToolCallAction(name="read_file", args={"rel_path": f"f{i}.py"})
        msgs.append(action_message(call, "json"))
        msgs += observation_messages("json", "read_file", "x" * obs_chars, None)
    return msgs


def size(msgs: list[Message]) -> int:
    return sum(len(m.content or "") for m in msgs)


def test_fit_context_keeps_everything_when_it_fits() -> None:
    msgs = conversation(3)
    assert fit_context(msgs, 100_000) == msgs


@pytest.mark.parametrize("budget", [500, 1000, 2000, 3000])
def test_fit_context_keeps_system_goal_and_alternation(budget: int) -> None:
    msgs = conversation(20)
    out = fit_context(msgs, budget)
    assert out[:2] == msgs[:2]
    assert out[2].role == "assistant"
    assert out[-1] == msgs[-1]
    assert [m.role for m in out[2:]] == ["assistant", "user"] * ((len(out) - 2) // 2)
    assert size(out) <= budget
    assert out[2:] == msgs[len(msgs) - (len(out) - 2) :]  # a suffix: only the oldest dropped


def test_fit_context_keeps_the_latest_turn_even_if_too_long() -> None:
    msgs = conversation(4, obs_chars=5000)
    out = fit_context(msgs, 500)
    assert out == msgs[:2] + msgs[-2:]


def test_fit_context_native_counts_tool_calls() -> None:
    msgs = conversation(0)
    for i in range(10):
        call = ToolCallAction(name="write_file", args={"rel_path": "a.py", "content": "y" * 400})
        msgs.append(action_message(call, "native", f"c{i}"))
        msgs.append(Message(role="tool", tool_call_id=f"c{i}", content="ok"))
    out = fit_context(msgs, 1500)
    assert out[:2] == msgs[:2] and out[2].role == "assistant"
    assert 2 < len(out) < len(msgs)
    assert out[-1] == msgs[-1]


# --- property-based fuzzing --------------------------------------------------------------------


def check_parse_result(out: object) -> None:
    """What every parse must return: an Action a trace can record, or a ParseError."""
    assert isinstance(out, ToolCallAction | FinalAction | ParseError), out
    if isinstance(out, ParseError):
        assert isinstance(out.code, ParseErrorCode) and out.message().startswith(
            PROTOCOL_ERROR_PREFIX
        )
    else:
        out.model_dump_json()  # serialisable as UTF-8
        if isinstance(out, ToolCallAction):
            assert out.name in TOOLS


any_chars = st.characters(blacklist_categories=())  # includes lone surrogates
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=any_chars, max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(st.text(alphabet=any_chars, max_size=300))
def test_fuzz_random_text(text: str) -> None:
    check_parse_result(parse_json_action(text))


@FUZZ
@given(st.text(max_size=300), st.text(max_size=50), st.text(max_size=300))
def test_fuzz_random_native_messages(content: str, name: str, arguments: str) -> None:
    check_parse_result(parse_native_action(Message(role="assistant", content=content)))
    check_parse_result(parse_native_action(native(name, arguments)))


@FUZZ
@given(json_values)
def test_fuzz_random_json_values(value: object) -> None:
    check_parse_result(parse_json_action(json.dumps(value)))
    check_parse_result(parse_json_action(json.dumps(value, ensure_ascii=False)))


@FUZZ
@given(
    st.sampled_from(["tool_call", "final", "call", None, 1]),
    st.one_of(st.sampled_from(sorted(TOOLS)), json_values),
    json_values,
    json_values,
)
def test_fuzz_action_shaped_objects(
    kind: object, name: object, args: object, summary: object
) -> None:
    obj = {"type": kind, "name": name, "args": args}
    check_parse_result(parse_json_action(json.dumps(obj)))
    check_parse_result(parse_json_action(json.dumps({"type": kind, "summary": summary})))
    check_parse_result(parse_native_action(native(str(name), json.dumps(args))))


safe_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@st.composite
def valid_actions(draw: st.DrawFn) -> ToolCallAction | FinalAction:
    name = draw(st.sampled_from([*sorted(TOOLS), "final"]))
    if name == "final":
        return FinalAction(summary=draw(safe_text))
    args: dict[str, object] = {}
    for arg in TOOLS[name].args:
        if arg.required or draw(st.booleans()):
            args[arg.name] = draw(safe_text if arg.type is str else st.integers(-5, 10**6))
    if draw(st.booleans()):
        args["thought"] = draw(safe_text)
    return ToolCallAction(name=name, args=args)


@FUZZ
@given(valid_actions())
def test_render_then_parse_round_trips(action: ToolCallAction | FinalAction) -> None:
    assert parse_json_action(render_action(action)) == action
    assert parse_action(action_message(action, "json"), "json") == action
    back = parse_action(action_message(action, "native", "c0"), "native")
    if isinstance(action, FinalAction) and not action.summary.strip():
        assert isinstance(back, ParseError) and back.code == ParseErrorCode.EMPTY
    else:
        assert back == action


@FUZZ
@given(valid_actions(), st.data())
def test_fuzz_truncated_actions_are_errors(
    action: ToolCallAction | FinalAction, data: st.DataObject
) -> None:
    text = render_action(action)
    cut = data.draw(st.integers(0, len(text) - 1))
    out = parse_json_action(text[:cut])
    assert isinstance(out, ParseError)
    assert out.code in {ParseErrorCode.INVALID_JSON, ParseErrorCode.EMPTY}


@FUZZ
@given(
    valid_actions(),
    st.data(),
    st.text(alphabet=any_chars | st.sampled_from(list('{}[]",:\\')), min_size=1, max_size=3),
)
def test_fuzz_inserted_chars(
    action: ToolCallAction | FinalAction, data: st.DataObject, junk: str
) -> None:
    text = render_action(action)
    at = data.draw(st.integers(0, len(text)))
    check_parse_result(parse_json_action(text[:at] + junk + text[at:]))
    check_parse_result(parse_json_action(text[:at] + text[at + len(junk) :]))  # deletions


wrong_values = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(string.ascii_letters, max_size=3), st.integers(), max_size=2),
)


@FUZZ
@given(valid_actions(), st.data(), wrong_values)
def test_fuzz_wrong_arg_types(
    action: ToolCallAction | FinalAction, data: st.DataObject, bad: object
) -> None:
    if isinstance(action, FinalAction):
        if isinstance(bad, str):
            return
        out = parse_json_action(json.dumps({"type": "final", "summary": bad}))
        assert isinstance(out, ParseError) and out.code == ParseErrorCode.BAD_SUMMARY
        return
    if not action.args:
        return
    key = data.draw(st.sampled_from(sorted(action.args)))
    arg = TOOLS[action.name].arg(key)
    expected_type = arg.type if arg is not None else str
    if isinstance(bad, expected_type) and not isinstance(bad, bool):
        return
    args = {**action.args, key: bad}
    out = parse_json_action(json.dumps({"type": "tool_call", "name": action.name, "args": args}))
    assert isinstance(out, ParseError) and out.code == ParseErrorCode.BAD_ARG_TYPE
