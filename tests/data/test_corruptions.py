"""Synthetic corruptions: when each applies, and that its output is the intended violation."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from repo_agent.data.config import PairParams, RubricParams
from repo_agent.data.corruptions import (
    CORRUPTIONS,
    broken_json,
    exact_repeat,
    missing_arg,
    premature_final,
    repeated_grep,
    tiny_reread,
    unknown_tool,
    write_before_read,
)
from repo_agent.data.rubric import blind_write, loop_score, view_state
from repo_agent.data.rubric import premature_final as premature_final_score
from repo_agent.records import FinalAction, Message, ToolCallAction
from repo_agent.runtime.loops import ALTERNATION, EXACT_REPEAT, REPEAT_GREP, TINY_REREAD
from repo_agent.runtime.protocol import ParseError, ParseErrorCode, parse_action, render_action
from repo_agent.runtime.tools import TOOLS

SYSTEM = Message(role="system", content="You fix bugs.")
GOAL = Message(role="user", content="Task: fix mid() in calc.py")


def tc(name: str, **args: Any) -> ToolCallAction:
    return ToolCallAction(name=name, args=args)


def turn(action: ToolCallAction, text: str) -> list[Message]:
    return [
        Message(role="assistant", content=render_action(action)),
        Message(role="user", content=f"[tool_result] {action.name}\n{text}"),
    ]


LIST = tc("list_files", rel_dir=".")
GREP = tc("grep", pattern=r"def mid\b", rel_dir=".")
GREP2 = tc("grep", pattern="mid", rel_dir=".")
READ = tc("read_file", rel_path="calc.py", max_chars=1000)
WRITE = tc("write_file", rel_path="calc.py", content="def mid(a, b):\n    return (a + b) // 2\n")
FINAL = FinalAction(summary="Fixed the bug in calc.py.")

EMPTY = [SYSTEM, GOAL]
LISTED = [*EMPTY, *turn(LIST, "calc.py\ntests/test_calc.py")]
GREPPED = [*LISTED, *turn(GREP, "calc.py:1: def mid(a, b):")]
READ_DONE = [*GREPPED, *turn(READ, "def mid(a, b):\n    return (a + b) // 3\n")]
WRITTEN = [*READ_DONE, *turn(WRITE, "wrote calc.py (40 bytes)")]

# (state, the teacher's action on it): a whole oracle-like episode.
EPISODE = [(EMPTY, LIST), (LISTED, GREP), (GREPPED, READ), (READ_DONE, WRITE), (WRITTEN, FINAL)]


def rng(seed: int = 0) -> random.Random:
    return random.Random(seed)


def parsed(content: str | None) -> ToolCallAction | FinalAction | ParseError:
    assert content is not None
    return parse_action(Message(role="assistant", content=content), "json")


def loop_flags(state: list[Message], content: str) -> list[str]:
    action = parsed(content)
    assert isinstance(action, ToolCallAction)
    return view_state(state, "json").detector.check(action)


def test_registry_matches_the_pair_params() -> None:
    assert list(CORRUPTIONS) == PairParams().corruptions
    assert CORRUPTIONS["premature_final"] is premature_final


# --- hard-constraint corruptions ---


@pytest.mark.parametrize(("state", "action"), EPISODE)
@pytest.mark.parametrize("seed", range(5))
def test_broken_json_is_an_invalid_json_prefix(
    state: list[Message], action: ToolCallAction | FinalAction, seed: int
) -> None:
    out = broken_json(state, action, rng(seed))
    full = render_action(action)
    assert out is not None and full.startswith(out) and len(out) < len(full)
    assert len(out) >= len(full) // 3
    err = parsed(out)
    assert isinstance(err, ParseError) and err.code is ParseErrorCode.INVALID_JSON


@pytest.mark.parametrize(("state", "action"), EPISODE)
def test_unknown_tool(state: list[Message], action: ToolCallAction | FinalAction) -> None:
    out = unknown_tool(state, action, rng())
    err = parsed(out)
    assert isinstance(err, ParseError) and err.code is ParseErrorCode.UNKNOWN_TOOL
    obj = json.loads(out or "")
    assert obj["name"] not in TOOLS
    assert obj["args"] == (action.args if isinstance(action, ToolCallAction) else {})


@pytest.mark.parametrize(("state", "action"), EPISODE)
def test_missing_arg(state: list[Message], action: ToolCallAction | FinalAction) -> None:
    out = missing_arg(state, action, rng())
    err = parsed(out)
    assert isinstance(err, ParseError) and err.code is ParseErrorCode.MISSING_ARG


def test_missing_arg_drops_a_required_arg_of_the_same_tool() -> None:
    for seed in range(10):
        obj = json.loads(missing_arg(READ_DONE, WRITE, rng(seed)) or "")
        assert obj["name"] == "write_file"
        assert len(obj["args"]) == 1 and set(obj["args"]) < {"rel_path", "content"}
    obj = json.loads(missing_arg(LISTED, GREP, rng()) or "")
    assert obj == {"type": "tool_call", "name": "grep", "args": {"rel_dir": "."}}
    obj = json.loads(missing_arg(GREPPED, READ, rng()) or "")
    assert obj == {"type": "tool_call", "name": "read_file", "args": {"max_chars": 1000}}


def test_missing_arg_without_required_args_falls_back_to_an_empty_read() -> None:
    expected = {"type": "tool_call", "name": "read_file", "args": {}}
    assert json.loads(missing_arg(EMPTY, LIST, rng()) or "") == expected
    assert json.loads(missing_arg(WRITTEN, FINAL, rng()) or "") == expected


# --- loop corruptions ---


def test_exact_repeat_needs_a_previous_call() -> None:
    assert exact_repeat(EMPTY, LIST, rng()) is None


@pytest.mark.parametrize(
    ("state", "previous"), [(LISTED, LIST), (GREPPED, GREP), (READ_DONE, READ), (WRITTEN, WRITE)]
)
def test_exact_repeat_equals_the_previous_call(
    state: list[Message], previous: ToolCallAction
) -> None:
    out = exact_repeat(state, FINAL, rng())
    assert parsed(out) == previous
    assert out == render_action(previous)
    assert EXACT_REPEAT in loop_flags(state, out or "")


def test_exact_repeat_skips_calls_that_were_not_executed() -> None:
    state = [
        *GREPPED,
        Message(role="assistant", content=render_action(READ)),
        Message(role="user", content="[reflection] Loop detected ..."),
    ]
    assert parsed(exact_repeat(state, WRITE, rng())) == GREP


def test_tiny_reread_needs_a_read() -> None:
    assert tiny_reread(GREPPED, READ, rng()) is None
    assert tiny_reread(EMPTY, LIST, rng()) is None


@pytest.mark.parametrize("seed", range(5))
def test_tiny_reread_rereads_a_read_file_with_a_tiny_max_chars(seed: int) -> None:
    out = tiny_reread(READ_DONE, WRITE, rng(seed))
    action = parsed(out)
    assert isinstance(action, ToolCallAction) and action.name == "read_file"
    assert action.args["rel_path"] == "calc.py"
    assert action.args["max_chars"] in {20, 50, 100}
    assert TINY_REREAD in loop_flags(READ_DONE, out or "")
    assert loop_score(view_state(READ_DONE, "json"), action, RubricParams(loop_penalty=1.0)) <= -1.0


def test_repeated_grep_needs_a_grep() -> None:
    assert repeated_grep(LISTED, GREP, rng()) is None


@pytest.mark.parametrize("seed", range(5))
def test_repeated_grep_repeats_an_earlier_grep(seed: int) -> None:
    state = [*READ_DONE, *turn(GREP2, "calc.py:1: def mid(a, b):"), *turn(READ, "x")]
    out = repeated_grep(state, WRITE, rng(seed))
    assert parsed(out) in (GREP, GREP2)
    flags = loop_flags(state, out or "")
    # read, grep2, read, grep2 is also an A/B alternation
    assert flags == ([REPEAT_GREP, ALTERNATION] if parsed(out) == GREP2 else [REPEAT_GREP])
    assert loop_score(
        view_state(state, "json"), parsed(out), RubricParams(loop_penalty=1.0)
    ) == -len(flags)


def test_repeated_grep_right_after_the_grep_is_an_exact_repeat() -> None:
    out = repeated_grep(GREPPED, READ, rng())
    assert parsed(out) == GREP
    assert loop_flags(GREPPED, out or "") == [EXACT_REPEAT]


# --- progress corruptions ---


@pytest.mark.parametrize(("state", "action"), EPISODE[:4])
def test_premature_final_before_any_write(
    state: list[Message], action: ToolCallAction | FinalAction
) -> None:
    out = premature_final(state, action, rng())
    fin = parsed(out)
    assert isinstance(fin, FinalAction)
    assert premature_final_score(view_state(state, "json"), fin, RubricParams()) == -3.0


def test_premature_final_does_not_apply_after_a_write_or_to_a_final() -> None:
    assert premature_final(WRITTEN, FINAL, rng()) is None
    assert premature_final([*WRITTEN, *turn(LIST, "calc.py")], LIST, rng()) is None
    assert premature_final(GREPPED, FINAL, rng()) is None


def test_write_before_read_targets_the_file_about_to_be_read() -> None:
    out = write_before_read(GREPPED, READ, rng())
    action = parsed(out)
    assert action == tc("write_file", rel_path="calc.py", content="# fixed\n")
    assert blind_write(view_state(GREPPED, "json"), action, RubricParams()) == -3.0


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (READ_DONE, WRITE),  # the teacher already writes
        (EMPTY, LIST),  # not a read
        (LISTED, GREP),
        (WRITTEN, FINAL),
        (READ_DONE, tc("read_file", rel_path="calc.py")),  # already read
    ],
    ids=["write", "list", "grep", "final", "reread"],
)
def test_write_before_read_does_not_apply(
    state: list[Message], action: ToolCallAction | FinalAction
) -> None:
    assert write_before_read(state, action, rng()) is None


# --- determinism and purity ---


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_corruption_is_deterministic_per_seed(name: str) -> None:
    fn = CORRUPTIONS[name]
    state = [*READ_DONE, *turn(GREP2, "calc.py:1: def mid(a, b):")]
    for action in (READ, WRITE, FINAL, tc("read_file", rel_path="tests/test_calc.py")):
        first = [fn(state, action, rng(seed)) for seed in range(8)]
        again = [fn(state, action, rng(seed)) for seed in range(8)]
        assert first == again


def test_seeds_give_different_corruptions() -> None:
    cuts = {broken_json(EMPTY, WRITE, rng(seed)) for seed in range(20)}
    names = {json.loads(unknown_tool(EMPTY, LIST, rng(seed)) or "")["name"] for seed in range(20)}
    assert len(cuts) > 1 and len(names) > 1


def test_corruptions_do_not_mutate_their_inputs() -> None:
    state = [m.model_copy(deep=True) for m in WRITTEN]
    action = WRITE.model_copy(deep=True)
    for fn in CORRUPTIONS.values():
        fn(state, action, rng())
    assert state == WRITTEN and action == WRITE
