"""Loop detection: exact repeats, tiny re-reads, repeated greps, and no false positives."""

from __future__ import annotations

import pytest

from repo_agent.records import ToolCallAction
from repo_agent.runtime.loops import (
    EXACT_REPEAT,
    REPEAT_GREP,
    TINY_REREAD,
    LoopDetector,
    call_key,
    reflection_prompt,
)
from repo_agent.runtime.protocol import REFLECTION_PREFIX


def call(name: str, **args: object) -> ToolCallAction:
    return ToolCallAction(name=name, args=args)


def flags_of(calls: list[ToolCallAction], small: int = 200) -> list[list[str]]:
    detector = LoopDetector(small_read_chars=small)
    return [detector.check(c) for c in calls]


def test_exact_repeat_of_previous_call() -> None:
    a = call("list_files", rel_dir=".")
    assert flags_of([a, a]) == [[], [EXACT_REPEAT]]


def test_exact_repeat_ignores_thought() -> None:
    a = call("read_file", rel_path="a.py", thought="first look")
    b = call("read_file", rel_path="a.py", thought="look again")
    assert call_key(a) == call_key(b)
    assert flags_of([a, b]) == [[], [EXACT_REPEAT]]


def test_exact_repeat_of_a_write() -> None:
    w = call("write_file", rel_path="a.py", content="x = 1\n")
    assert flags_of([w, w])[1] == [EXACT_REPEAT]


def test_repeat_only_of_the_previous_call() -> None:
    # Listing again after something else happened is not an *exact repeat*.
    a = call("list_files", rel_dir=".")
    b = call("read_file", rel_path="a.py")
    assert flags_of([a, b, a]) == [[], [], []]


def test_tiny_reread() -> None:
    calls = [
        call("read_file", rel_path="a.py"),
        call("list_files"),
        call("read_file", rel_path="./a.py", max_chars=50),
    ]
    assert flags_of(calls)[2] == [TINY_REREAD]


def test_tiny_reread_threshold_is_configurable() -> None:
    calls = [call("read_file", rel_path="a.py"), call("read_file", rel_path="a.py", max_chars=150)]
    assert flags_of(calls, small=200)[1] == [TINY_REREAD]
    assert flags_of(calls, small=100)[1] == []


def test_tiny_first_read_is_not_a_loop() -> None:
    calls = [
        call("read_file", rel_path="a.py", max_chars=10),
        call("read_file", rel_path="b.py", max_chars=10),
    ]
    assert flags_of(calls) == [[], []]


def test_exact_repeat_of_a_tiny_read_has_both_flags() -> None:
    a = call("read_file", rel_path="a.py", max_chars=20)
    assert flags_of([a, a])[1] == [EXACT_REPEAT, TINY_REREAD]


def test_repeated_grep() -> None:
    calls = [
        call("grep", pattern="def f"),
        call("read_file", rel_path="a.py"),
        call("grep", pattern="def f", rel_dir="./", max_hits=3),
    ]
    assert flags_of(calls)[2] == [REPEAT_GREP]


def test_repeated_grep_back_to_back_is_an_exact_repeat_only() -> None:
    g = call("grep", pattern="def f", rel_dir=".")
    assert flags_of([g, g])[1] == [EXACT_REPEAT]


def test_grep_in_another_dir_or_pattern_is_fine() -> None:
    calls = [
        call("grep", pattern="def f"),
        call("grep", pattern="def f", rel_dir="tests"),
        call("grep", pattern="def g"),
        call("grep", pattern="def f\\b"),
    ]
    assert flags_of(calls) == [[], [], [], []]


@pytest.mark.parametrize(
    "calls",
    [
        # The oracle's plan.
        [
            call("list_files", rel_dir="."),
            call("grep", pattern=r"def binary_search\b", rel_dir="."),
            call("read_file", rel_path="bsearch.py", max_chars=1000),
            call("write_file", rel_path="bsearch.py", content="fixed"),
        ],
        # The oracle's detours: list tests, read the test first, a bare pattern, a big read.
        [
            call("list_files", rel_dir="."),
            call("list_files", rel_dir="tests"),
            call("read_file", rel_path="tests/test_bsearch.py", max_chars=2000),
            call("grep", pattern=r"binary_search\b", rel_dir="."),
            call("read_file", rel_path="bsearch.py", max_chars=4000),
            call("write_file", rel_path="bsearch.py", content="fixed"),
        ],
        # Reading more of a file after a truncated read, then writing twice with changes.
        [
            call("read_file", rel_path="a.py", max_chars=500),
            call("read_file", rel_path="a.py", max_chars=4000),
            call("write_file", rel_path="a.py", content="v1"),
            call("write_file", rel_path="a.py", content="v2"),
            call("read_file", rel_path="a.py"),
        ],
    ],
)
def test_no_false_positives_on_normal_sequences(calls: list[ToolCallAction]) -> None:
    assert all(f == [] for f in flags_of(calls))


def test_reflection_prompt_explains_each_flag() -> None:
    text = reflection_prompt([EXACT_REPEAT, TINY_REREAD], call("read_file", rel_path="a.py"))
    assert text.startswith(REFLECTION_PREFIX)
    assert "exact_repeat" in text and "tiny_reread" in text and "read_file" in text
    assert "repeated your previous call" in text
    grep_text = reflection_prompt([REPEAT_GREP], call("grep", pattern="x"))
    assert "repeated a grep" in grep_text
