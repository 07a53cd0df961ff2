"""The rubric: each named scoring function on small hand-worked JSON-protocol states."""

from __future__ import annotations

import json
from typing import Any

import pytest

from repo_agent.data.config import RubricParams
from repo_agent.data.rubric import (
    SCORERS,
    StateView,
    blind_write,
    hard_constraints,
    localised_write,
    loop_score,
    premature_final,
    read_after_grep,
    score,
    unseen_path,
    view_state,
)
from repo_agent.records import FinalAction, Message, ToolCallAction
from repo_agent.runtime.config import LoopLimits
from repo_agent.runtime.protocol import ParseError, ParseErrorCode, parse_action

# invalid 10, loop 1, unseen 2, premature 3, blind 3, read 1, write 2, ctx 500
R = RubricParams(loop_penalty=1.0)
SYSTEM = Message(role="system", content="You fix bugs.")
GOAL = Message(role="user", content="Task: fix mid() in calc.py")
CALC = "def mid(a, b):\n    return (a + b) // 3\n"  # 41 chars


def call(name: str, **args: Any) -> Message:
    return Message(
        role="assistant", content=json.dumps({"type": "tool_call", "name": name, "args": args})
    )


def final(summary: str = "fixed") -> Message:
    return Message(role="assistant", content=json.dumps({"type": "final", "summary": summary}))


def obs(name: str, text: str) -> Message:
    return Message(role="user", content=f"[tool_result] {name}\n{text}")


def state(*turns: tuple[Message, Message]) -> list[Message]:
    out = [SYSTEM, GOAL]
    for assistant, answer in turns:
        out += [assistant, answer]
    return out


LIST = (call("list_files", rel_dir="."), obs("list_files", "calc.py\nutil.py\ntests/test_calc.py"))
GREP = (
    call("grep", pattern=r"def mid\b", rel_dir="."),
    obs("grep", "calc.py:1: def mid(a, b):"),
)
READ = (call("read_file", rel_path="calc.py", max_chars=1000), obs("read_file", CALC))
WRITE = (
    call("write_file", rel_path="calc.py", content="def mid(a, b):\n    return (a + b) // 2\n"),
    obs("write_file", "wrote calc.py (40 bytes)"),
)


def act(m: Message) -> ToolCallAction | FinalAction:
    parsed = parse_action(m, "json")
    assert not isinstance(parsed, ParseError)
    return parsed


def view(*turns: tuple[Message, Message]) -> StateView:
    return view_state(state(*turns), "json")


# --- view_state ---


def test_view_state_replays_executed_calls() -> None:
    v = view(LIST, GREP, READ, WRITE)
    assert v.read_sizes == {"calc.py": len(CALC)}
    assert v.grep_hit_paths == {"calc.py"}
    assert v.written == {"calc.py"}
    assert v.detector.previous is not None and v.detector.previous.name == "write_file"
    assert v.detector.read_paths == {"calc.py"}
    assert v.detector.greps == {(r"def mid\b", ".")}


def test_view_state_normalises_paths_and_keeps_the_largest_read() -> None:
    small = (call("read_file", rel_path="./calc.py", max_chars=10), obs("read_file", CALC[:10]))
    v = view(small, READ)
    assert v.read_sizes == {"calc.py": len(CALC)}


def test_view_state_skips_errors_reflections_and_protocol_errors() -> None:
    failed = (call("read_file", rel_path="nope.py"), obs("read_file", "error: no such file"))
    reflected = (
        call("read_file", rel_path="util.py"),
        obs("read_file", "[reflection] Loop detected (exact_repeat): ..."),
    )
    broken = (
        Message(role="assistant", content='{"type":"tool_call"'),
        Message(role="user", content="[protocol_error] invalid_json: the reply is not valid JSON"),
    )
    v = view(failed, reflected, broken)
    assert v.read_sizes == {} and v.grep_hit_paths == set() and v.written == set()
    # An errored call still counts for loop history; a reflected one was never executed.
    assert v.detector.read_paths == {"nope.py"}


def test_view_state_of_an_empty_conversation() -> None:
    v = view()
    assert v.read_sizes == {} and v.detector.previous is None


# --- hard constraints ---


def test_hard_constraints() -> None:
    err = ParseError(ParseErrorCode.INVALID_JSON, "x")
    assert hard_constraints(err, R) == -10.0
    assert hard_constraints(err, RubricParams(invalid_penalty=4)) == -4.0
    assert hard_constraints(FinalAction(summary="s"), R) == 0.0
    assert hard_constraints(act(LIST[0]), R) == 0.0


@pytest.mark.parametrize(
    "content",
    [
        '{"type":"tool_call"',  # invalid JSON
        "",  # empty
        '{"type":"tool_call","name":"bash","args":{}}',  # unknown tool
        '{"type":"tool_call","name":"read_file","args":{}}',  # missing arg
        '{"type":"tool_call","name":"read_file","args":{"rel_path":1}}',  # bad arg type
        '{"type":"call","name":"list_files","args":{}}',  # wrong type
        'Sure! {"type":"final","summary":"x"}',  # text around the object
    ],
)
def test_score_of_a_protocol_violation_is_minus_invalid_penalty(content: str) -> None:
    cand = Message(role="assistant", content=content)
    assert score(state(LIST), cand, R) == -10.0
    assert score(state(LIST), cand, RubricParams(invalid_penalty=7.5)) == -7.5


# --- loop_score ---


def test_exact_repeat_costs_one_loop_penalty() -> None:
    v = view(LIST, GREP)
    assert loop_score(v, act(GREP[0]), R) == -1.0
    assert loop_score(v, act(GREP[0]), RubricParams(loop_penalty=2.5)) == -2.5
    assert loop_score(v, act(GREP[0]), RubricParams(loop_penalty=0)) == 0.0


def test_exact_repeat_ignores_the_thought_arg() -> None:
    v = view(LIST)
    again = ToolCallAction(name="list_files", args={"rel_dir": ".", "thought": "once more"})
    assert loop_score(v, again, R) == -1.0


def test_tiny_reread_is_a_loop_a_big_one_is_not() -> None:
    v = view(LIST, GREP, READ)
    tiny = ToolCallAction(name="read_file", args={"rel_path": "calc.py", "max_chars": 50})
    assert loop_score(v, tiny, R) == -1.0
    assert loop_score(v, tiny, RubricParams(loop_penalty=2)) == -2.0
    big = ToolCallAction(name="read_file", args={"rel_path": "calc.py", "max_chars": 200})
    assert loop_score(v, big, R) == 0.0
    other = ToolCallAction(name="read_file", args={"rel_path": "util.py", "max_chars": 50})
    assert loop_score(v, other, R) == 0.0


def test_exact_repeat_of_a_tiny_read_has_two_flags() -> None:
    tiny = (call("read_file", rel_path="calc.py", max_chars=50), obs("read_file", CALC))
    v = view(READ, tiny)
    assert loop_score(v, act(tiny[0]), R) == -2.0
    assert loop_score(v, act(tiny[0]), RubricParams(loop_penalty=3)) == -6.0


def test_repeated_grep_is_a_loop() -> None:
    v = view(GREP, READ)
    again = ToolCallAction(name="grep", args={"pattern": r"def mid\b", "rel_dir": "./"})
    assert loop_score(v, again, R) == -1.0
    other_dir = ToolCallAction(name="grep", args={"pattern": r"def mid\b", "rel_dir": "tests"})
    assert loop_score(v, other_dir, R) == 0.0
    other_pattern = ToolCallAction(name="grep", args={"pattern": "mid", "rel_dir": "."})
    assert loop_score(v, other_pattern, R) == 0.0


def test_repeated_grep_right_after_itself_is_one_flag_not_two() -> None:
    assert loop_score(view(GREP), act(GREP[0]), R) == -1.0


def test_loop_score_does_not_change_the_view() -> None:
    v = view(LIST, GREP)
    assert loop_score(v, act(GREP[0]), R) == loop_score(v, act(GREP[0]), R) == -1.0
    assert v.detector.previous == act(GREP[0])
    assert v.detector.greps == {(r"def mid\b", ".")}


def test_fresh_calls_and_finals_are_not_loops() -> None:
    v = view(LIST, GREP)
    assert loop_score(v, act(READ[0]), R) == 0.0
    assert loop_score(v, FinalAction(summary="s"), R) == 0.0
    assert loop_score(view(), act(LIST[0]), R) == 0.0


# --- premature_final ---


def test_premature_final() -> None:
    f = FinalAction(summary="done")
    assert premature_final(view(LIST, GREP, READ), f, R) == -3.0
    assert premature_final(view(), f, RubricParams(premature_final_penalty=5)) == -5.0
    assert premature_final(view(LIST, GREP, READ, WRITE), f, R) == 0.0
    assert premature_final(view(LIST), act(READ[0]), R) == 0.0


def test_a_failed_write_does_not_allow_a_final() -> None:
    failed = (WRITE[0], obs("write_file", "error: path escapes the workspace"))
    assert premature_final(view(READ, failed), FinalAction(summary="done"), R) == -3.0


# --- blind_write ---


def test_blind_write() -> None:
    write = act(WRITE[0])
    assert blind_write(view(LIST, GREP), write, R) == -3.0
    assert blind_write(view(LIST, GREP), write, RubricParams(blind_write_penalty=1)) == -1.0
    assert blind_write(view(LIST, GREP, READ), write, R) == 0.0
    dotted = ToolCallAction(name="write_file", args={"rel_path": "./calc.py", "content": "x"})
    assert blind_write(view(READ), dotted, R) == 0.0
    assert blind_write(view(READ), act(READ[0]), R) == 0.0
    assert blind_write(view(), FinalAction(summary="s"), R) == 0.0


def test_a_read_that_failed_does_not_count_as_read() -> None:
    failed = (call("read_file", rel_path="calc.py"), obs("read_file", "error: is a directory"))
    assert blind_write(view(failed), act(WRITE[0]), R) == -3.0


# --- read_after_grep ---


def test_read_after_grep_rewards_enough_context() -> None:
    v = view(LIST, GREP)
    assert read_after_grep(v, act(READ[0]), R) == 1.0  # max_chars 1000 >= 500
    default = ToolCallAction(name="read_file", args={"rel_path": "calc.py"})  # 4000
    assert read_after_grep(v, default, R) == 1.0
    assert read_after_grep(v, default, RubricParams(read_after_grep_reward=0.5)) == 0.5


def test_read_after_grep_needs_min_context_chars() -> None:
    v = view(LIST, GREP)
    small = ToolCallAction(name="read_file", args={"rel_path": "calc.py", "max_chars": 100})
    assert read_after_grep(v, small, R) == 0.0
    assert read_after_grep(v, small, RubricParams(min_context_chars=100)) == 1.0
    assert read_after_grep(v, small, RubricParams(min_context_chars=101)) == 0.0


def test_read_after_grep_needs_a_grep_hit() -> None:
    other = ToolCallAction(name="read_file", args={"rel_path": "util.py"})
    assert read_after_grep(view(LIST, GREP), other, R) == 0.0
    assert read_after_grep(view(LIST), act(READ[0]), R) == 0.0
    no_hit = (call("grep", pattern="zzz", rel_dir="."), obs("grep", "(no matches)"))
    assert read_after_grep(view(no_hit), act(READ[0]), R) == 0.0
    assert read_after_grep(view(LIST, GREP), act(LIST[0]), R) == 0.0


# --- localised_write ---


def test_localised_write_needs_a_grep_hit_and_a_read() -> None:
    write = act(WRITE[0])
    assert localised_write(view(LIST, GREP, READ), write, R) == 2.0
    assert localised_write(view(GREP, READ), write, RubricParams(localised_write_reward=4)) == 4.0
    assert localised_write(view(LIST, READ), write, R) == 0.0  # read, never grep-hit
    assert localised_write(view(LIST, GREP), write, R) == 0.0  # grep-hit, never read
    other = ToolCallAction(name="write_file", args={"rel_path": "util.py", "content": "x"})
    assert localised_write(view(LIST, GREP, READ), other, R) == 0.0
    assert localised_write(view(LIST, GREP, READ), act(READ[0]), R) == 0.0


# --- score() totals ---


def test_scorers_are_the_named_functions() -> None:
    named = (loop_score, unseen_path, premature_final, blind_write, read_after_grep)
    assert (*named, localised_write) == SCORERS


def test_unseen_path_penalises_reading_a_name_no_observation_gave() -> None:
    remembered = ToolCallAction(name="read_file", args={"rel_path": "minheap.py"})
    listed = ToolCallAction(name="read_file", args={"rel_path": "./util.py"})
    assert unseen_path(view(), act(READ[0]), R) == -2.0  # nothing listed yet
    assert unseen_path(view(LIST), remembered, R) == -2.0
    assert unseen_path(view(LIST), listed, R) == 0.0
    assert unseen_path(view(GREP), act(READ[0]), RubricParams(unseen_path_penalty=5)) == 0.0
    failed = (call("read_file", rel_path="minheap.py"), obs("read_file", "error: no such file"))
    assert unseen_path(view(failed), remembered, R) == -2.0  # an error names nothing
    assert unseen_path(view(LIST), act(GREP[0]), R) == 0.0  # only reads


@pytest.mark.parametrize(
    ("turns", "candidate", "expected"),
    [
        ((), LIST[0], 0.0),
        ((LIST,), GREP[0], 0.0),
        ((LIST, GREP), READ[0], 1.0),  # read after grep
        ((LIST, GREP, READ), WRITE[0], 2.0),  # localised write
        ((LIST, GREP, READ, WRITE), final(), 0.0),
        ((LIST, GREP), final(), -3.0),  # premature final
        ((LIST, GREP), WRITE[0], -3.0),  # blind write
        ((LIST, GREP, READ), READ[0], 0.0),  # exact repeat -1, read after grep +1
        ((LIST, GREP, READ), call("read_file", rel_path="calc.py", max_chars=50), -1.0),
        ((LIST, GREP, READ), GREP[0], -1.0),  # repeated grep
        ((LIST, GREP, READ, WRITE), WRITE[0], 1.0),  # exact repeat -1, localised write +2
        ((LIST,), call("write_file", rel_path="new.py", content="x"), -3.0),
        ((), READ[0], -2.0),  # a file name no observation gave
    ],
    ids=[
        "first-list",
        "grep",
        "read-after-grep",
        "localised-write",
        "final-after-write",
        "premature-final",
        "blind-write",
        "repeat-read",
        "tiny-reread",
        "repeat-grep",
        "repeat-write",
        "blind-new-file",
        "unseen-read",
    ],
)
def test_score_worked_examples(
    turns: tuple[tuple[Message, Message], ...], candidate: Message, expected: float
) -> None:
    assert score(state(*turns), candidate, R) == expected


def test_score_scales_with_loop_penalty() -> None:
    s = state(LIST, GREP, READ)
    assert score(s, GREP[0], RubricParams(loop_penalty=2)) == -2.0
    assert score(s, READ[0], RubricParams(loop_penalty=2)) == -1.0  # -2 loop, +1 read


def test_score_margin_between_teacher_and_a_premature_final() -> None:
    s = state(LIST, GREP)
    assert score(s, READ[0], R) - score(s, final(), R) == 4.0


def test_score_under_the_native_protocol() -> None:
    native_call = Message(
        role="assistant",
        content="",
        tool_calls=[
            {
                "id": "c0",
                "type": "function",
                "function": {"name": "grep", "arguments": '{"pattern": "def mid"}'},
            }
        ],
    )
    answer = Message(role="tool", tool_call_id="c0", content="calc.py:1: def mid(a, b):")
    read = Message(
        role="assistant",
        content="",
        tool_calls=[
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "read_file", "arguments": '{"rel_path": "calc.py"}'},
            }
        ],
    )
    assert score([SYSTEM, GOAL, native_call, answer], read, R, protocol="native") == 1.0


def test_the_loop_term_searches_the_agents_loop_window() -> None:
    """A, B, C, A, B then C closes a cycle of period 3: a loop within the last 8 calls (the
    default window finds periods up to 4), not within 4 (periods up to 2)."""
    a = (call("list_files", rel_dir="."), obs("list_files", "calc.py"))
    b = (call("list_files", rel_dir="tests"), obs("list_files", "test_calc.py"))
    c = call("grep", pattern="mid", rel_dir=".")
    s = state(a, b, (c, obs("grep", "calc.py:1: def mid(a, b):")), a, b)
    wide, narrow = LoopLimits(window=8), LoopLimits(window=4)
    assert score(s, c, R, "json", wide) == score(s, c, R, "json", narrow) - R.loop_penalty
    assert score(s, c, R, "json") == score(s, c, R, "json", wide)
