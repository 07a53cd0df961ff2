"""Loop detection: exact repeats, tiny re-reads, repeated greps, cycles, and no false
positives."""

from __future__ import annotations

import pytest

from repo_agent.records import ToolCallAction
from repo_agent.runtime.loops import (
    ALTERNATION,
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


def flags_of(calls: list[ToolCallAction], small: int = 200, window: int = 8) -> list[list[str]]:
    detector = LoopDetector(small_read_chars=small, window=window)
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


# --- path spellings ------------------------------------------------------------------------------


def test_spellings_of_one_path_are_one_call() -> None:
    # The hostile probe: four spellings of one read in turn went undetected.
    calls = [
        call("read_file", rel_path=p)
        for p in ("bsearch.py", "./bsearch.py", "bsearch.py ", "././bsearch.py")
    ]
    assert flags_of(calls) == [[], [EXACT_REPEAT], [EXACT_REPEAT], [EXACT_REPEAT]]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("pkg/a.py", "pkg//a.py"),
        ("pkg/a.py", "./pkg/../pkg/a.py"),
        ("pkg/a.py", " pkg/./a.py\n"),
        ("pkg", "pkg/"),
        (".", ""),
        (".", "./"),
    ],
)
def test_path_normalisation_in_call_key(a: str, b: str) -> None:
    name = "list_files"
    assert call_key(call(name, rel_dir=a)) == call_key(call(name, rel_dir=b))
    assert call_key(call("read_file", rel_path=a)) == call_key(call("read_file", rel_path=b))


def test_different_paths_stay_different() -> None:
    assert call_key(call("read_file", rel_path="a.py")) != call_key(
        call("read_file", rel_path="b/a.py")
    )
    # Only path args are normalised: a write's content is compared as given.
    w1 = call("write_file", rel_path="a.py", content="x ")
    w2 = call("write_file", rel_path="./a.py", content="x")
    assert call_key(w1) != call_key(w2)


def test_spellings_of_a_grep_dir_are_one_grep() -> None:
    calls = [
        call("grep", pattern="def f", rel_dir="pkg"),
        call("list_files"),
        call("grep", pattern="def f", rel_dir="./pkg//"),
    ]
    assert flags_of(calls)[2] == [REPEAT_GREP]


def test_tiny_reread_through_another_spelling() -> None:
    calls = [
        call("read_file", rel_path="pkg/a.py"),
        call("read_file", rel_path="pkg/x/../a.py", max_chars=20),
    ]
    assert flags_of(calls)[1] == [TINY_REREAD]


# --- cycles ---------------------------------------------------------------------------------------


def test_ab_alternation_twelve_times() -> None:
    a, b = call("read_file", rel_path="a.py"), call("read_file", rel_path="b.py")
    flags = flags_of([a, b] * 6)
    assert flags[:3] == [[], [], []]
    assert all(f == [ALTERNATION] for f in flags[3:]), flags


def test_alternation_through_path_spellings() -> None:
    calls = [
        call("read_file", rel_path="a.py"),
        call("list_files"),
        call("read_file", rel_path="./a.py"),
        call("list_files", rel_dir="./"),
    ]
    assert flags_of(calls)[3] == [ALTERNATION]


def test_a_repeat_is_not_an_alternation() -> None:
    a = call("list_files")
    assert flags_of([a] * 4) == [[], [EXACT_REPEAT], [EXACT_REPEAT], [EXACT_REPEAT]]


def test_alternation_ignores_thought() -> None:
    a, b = call("grep", pattern="x", rel_dir="src"), call("list_files", rel_dir="src")
    calls = [a, b, call("grep", pattern="x", rel_dir="src", thought="again"), b]
    assert flags_of(calls)[3] == [ALTERNATION]


def test_window_bounds_the_cycle_length() -> None:
    a, b, c = (call("read_file", rel_path=p) for p in ("a.py", "b.py", "c.py"))
    abc = [a, b, c, a, b, c]
    assert flags_of(abc, window=4)[5] == []  # a cycle of 3 needs 6 calls in view
    assert flags_of(abc, window=6)[5] == [ALTERNATION]
    assert flags_of(abc, window=8)[5] == [ALTERNATION]
    # A,B,A,B needs only 4.
    assert flags_of([a, b, a, b], window=4)[3] == [ALTERNATION]
    abcd = [a, b, c, call("list_files"), a, b, c]
    assert flags_of(abcd + [call("list_files")], window=6)[7] == []
    assert flags_of(abcd + [call("list_files")], window=8)[7] == [ALTERNATION]


def test_detector_keeps_only_the_window() -> None:
    d = LoopDetector(window=5)
    for i in range(20):
        d.check(call("read_file", rel_path=f"f{i}.py"))
    assert len(d.recent) == 5


def test_interrupted_alternation_is_fine() -> None:
    a, b = call("read_file", rel_path="a.py"), call("read_file", rel_path="b.py")
    w = call("write_file", rel_path="a.py", content="v2")
    assert flags_of([a, b, w, a, b]) == [[], [], [], [], []]


def test_fork_is_independent() -> None:
    a, b = call("read_file", rel_path="a.py"), call("read_file", rel_path="b.py")
    d = LoopDetector()
    for c in (a, b, a):
        d.check(c)
    probe = d.fork()
    assert probe.check(b) == [ALTERNATION]
    assert list(d.recent) == [call_key(a), call_key(b), call_key(a)]
    assert d.check(call("list_files")) == []


def test_alternation_has_a_reflection_reason() -> None:
    text = reflection_prompt([ALTERNATION], call("read_file", rel_path="a.py"))
    assert text.startswith(REFLECTION_PREFIX) and "alternation" in text
    assert "back and forth" in text
