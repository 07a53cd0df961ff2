"""Corruption pairs from a real oracle run (the teacher); margins hand-worked from the rubric.
The teacher's labels against a student's own actions: tests/data/test_onpolicy_pairs.py."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import pytest

from repo_agent.data.config import PairParams, RubricParams
from repo_agent.data.pairs import PAIR_FORMAT, PairExample, build_pairs
from repo_agent.data.rubric import score
from repo_agent.formats import validate_preference_row
from repo_agent.policies.oracle import OraclePolicy
from repo_agent.records import Message, StepRecord
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.runtime.policy import Policy
from repo_agent.runtime.task import Task

TASKS = ("a_binary_search", "a_gcd_lcm")
ALL = PairParams(corruptions_per_step=8)  # every corruption that applies, so no rng choice


@dataclass(frozen=True)
class Data:
    teacher: list[StepRecord]


def _steps(tasks: list[Task], policy: Policy, role: str) -> list[StepRecord]:
    done: list[StepRecord] = []
    specs = [RunSpec(t, f"{t.id}:{role}:0") for t in tasks]
    run_episodes(specs, policy, AgentConfig(test_policy="never"), lambda s, _: done.extend(s))
    return sorted(done, key=lambda s: (s.run_id, s.step))


@pytest.fixture(scope="module")
def data(task_by_id: dict[str, Task]) -> Data:
    tasks = [task_by_id[t] for t in TASKS]
    return Data(_steps(tasks, OraclePolicy(tasks), "teacher"))


def pairs_of(
    d: Data, rubric: RubricParams, params: PairParams = ALL
) -> tuple[list[PairExample], dict]:
    return build_pairs(d.teacher, rubric, params)


def test_the_runs_are_what_the_hand_worked_margins_assume(data: Data) -> None:
    for run in TASKS:
        names = [
            json.loads(s.raw_output.content or "").get("name", "final")
            for s in data.teacher
            if s.task_id == run
        ]
        assert names == ["list_files", "grep", "read_file", "write_file", "final"]


def test_counts_by_source_and_reason(data: Data) -> None:
    # Per task, with loop_penalty 1 and min_margin 1.5 (teacher scores: list 0, grep 0,
    # read +1 read-after-grep, write +2 localised, final 0):
    #   list:  broken/unknown/missing 10, premature 3                         -> 4 kept
    #   grep:  broken/unknown/missing 10, premature 3; exact repeat 1         -> 4 kept, 1 dropped
    #   read:  hard 11, exact repeat 2, repeated grep 2, premature 4, write-before-read 4 -> 7
    #   write: hard 12, exact repeat 2, tiny re-read 3, repeated grep 3, premature 5      -> 7
    #   final: hard 10; exact repeat -1, tiny re-read 1, repeated grep 1      -> 3 kept, 3 dropped
    pairs, m = pairs_of(data, RubricParams(loop_penalty=1, min_margin=1.5))
    assert m["by_source"] == {"corruption": 50}
    assert m["by_reason"] == {
        "broken_json": 10,
        "exact_repeat": 4,
        "missing_arg": 10,
        "premature_final": 8,
        "repeated_grep": 4,
        "tiny_reread": 2,
        "unknown_tool": 10,
        "write_before_read": 2,
    }
    assert m["pairs"] == len(pairs) == 50
    assert m["candidates"] == 58
    assert m["dropped_low_margin"] == 8
    assert m["teacher_steps_kept"] == 10
    assert m["pairs_per_kept_step"] == 5.0
    assert m["margin"] == {
        "mean": round(sum(p.margin for p in pairs) / 50, 4),
        "min": 2.0,
        "max": 12.0,
    }
    assert Counter(p.source for p in pairs) == m["by_source"]


def test_corruption_pairs_prefer_the_teachers_raw_output(data: Data) -> None:
    pairs, _ = pairs_of(data, RubricParams())
    raw = {json.dumps([m.dump() for m in s.messages]): s.raw_output.dump() for s in data.teacher}
    for p in pairs:
        if p.source == "corruption":
            assert p.row["preferred_output"] == [raw[json.dumps(p.row["input"]["messages"])]]


def test_json_protocol_rows_carry_no_tools(data: Data) -> None:
    pairs, _ = pairs_of(data, RubricParams(min_margin=0))
    assert pairs and all(
        list(p.row["input"]) == ["messages"] and "tools" not in p.row for p in pairs
    )


def test_every_row_validates_and_margins_are_rubric_differences(data: Data) -> None:
    rubric = RubricParams(min_margin=0)
    pairs, _ = pairs_of(data, rubric)
    assert pairs
    for p in pairs:
        assert p.format == PAIR_FORMAT
        validate_preference_row(p.row)
        state = [Message.model_validate(m) for m in p.row["input"]["messages"]]
        good = Message.model_validate(p.row["preferred_output"][0])
        bad = Message.model_validate(p.row["non_preferred_output"][0])
        assert p.margin == round(score(state, good, rubric) - score(state, bad, rubric), 4)
        assert p.margin >= 0


def test_raising_min_margin_keeps_fewer_pairs(data: Data) -> None:
    counts = []
    for min_margin in (0, 1, 1.5, 2.5, 3.5, 10.5, 12.5):
        pairs, m = pairs_of(data, RubricParams(min_margin=min_margin))
        assert all(p.margin >= min_margin for p in pairs)
        assert m["candidates"] == m["pairs"] + m["dropped_low_margin"]
        counts.append(len(pairs))
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[3] > counts[-2] > 0
    assert counts[-1] == 0  # no margin exceeds 12 (write +2 against -10)


def test_loop_penalty_raises_loop_margins(data: Data) -> None:
    loops = PairParams(
        corruptions=["exact_repeat", "tiny_reread", "repeated_grep"],
        corruptions_per_step=8,
    )

    def margins(lp: float) -> dict[tuple[str, str], float]:
        pairs, _ = pairs_of(data, RubricParams(loop_penalty=lp, min_margin=0), loops)
        return {(p.reason, json.dumps(p.row)): p.margin for p in pairs}

    one, two = margins(1), margins(2)
    assert set(one) <= set(two)
    assert len(two) > len(one)
    for key, m in one.items():
        assert two[key] >= m + 1  # each loop pair carries at least one loop flag


def test_loop_penalty_2_keeps_loop_pairs_that_1_drops(data: Data) -> None:
    p1, m1 = pairs_of(data, RubricParams(loop_penalty=1, min_margin=1.5))
    p2, m2 = pairs_of(data, RubricParams(loop_penalty=2, min_margin=1.5))
    assert m1["candidates"] == m2["candidates"]

    def key(p: PairExample) -> tuple[str, str]:
        return p.reason, json.dumps(p.row)

    gained = {key(p) for p in p2} - {key(p) for p in p1}
    assert {key(p) for p in p1} <= {key(p) for p in p2}
    # grep state: exact repeat of list (1 -> 2); final state: tiny re-read and repeated grep
    # (1 -> 2).
    assert Counter(reason for reason, _ in gained) == {
        "exact_repeat": 2,
        "tiny_reread": 2,
        "repeated_grep": 2,
    }
    assert m2["pairs"] == m1["pairs"] + 6
    assert m2["dropped_low_margin"] == m1["dropped_low_margin"] - 6


def test_metrics_are_flat_and_numeric(data: Data) -> None:
    _, m = pairs_of(data, RubricParams(), PairParams())
    assert set(m) == {
        "pairs",
        "candidates",
        "dropped_low_margin",
        "teacher_steps_kept",
        "pairs_per_kept_step",
        "by_source",
        "by_reason",
        "margin",
    }
    for k, v in m.items():
        if isinstance(v, dict):
            assert all(isinstance(x, str) for x in v), k
            assert all(isinstance(x, int | float) and not isinstance(x, bool) for x in v.values())
        else:
            assert isinstance(v, int | float) and not isinstance(v, bool), k
    json.dumps(m)


def test_empty_inputs_give_empty_metrics() -> None:
    pairs, m = build_pairs([], RubricParams(), PairParams())
    assert pairs == []
    assert m["pairs"] == m["candidates"] == m["teacher_steps_kept"] == 0
    assert m["by_source"] == {} and m["margin"] == {"mean": 0.0, "min": 0.0, "max": 0.0}


def test_corruptions_per_step_bounds_corruption_candidates(data: Data) -> None:
    rubric = RubricParams(min_margin=0)
    for n in (0, 1, 2):
        pairs, m = pairs_of(data, rubric, PairParams(corruptions_per_step=n))
        assert m["candidates"] == n * m["teacher_steps_kept"]  # >= n apply on every step
        assert {p.source for p in pairs} <= {"corruption"}


def test_teacher_steps_that_are_not_kept_are_not_corrupted(data: Data) -> None:
    flagged = [s.model_copy(update={"loop_flags": ["exact_repeat"]}) for s in data.teacher]
    _, m = build_pairs(flagged, RubricParams(), PairParams())
    assert m["teacher_steps_kept"] == 0 and m["candidates"] == 0


def test_build_pairs_is_deterministic_per_seed(data: Data) -> None:
    one = PairParams(corruptions_per_step=1)
    a, _ = pairs_of(data, RubricParams(min_margin=0), one)
    b, _ = pairs_of(data, RubricParams(min_margin=0), one)
    assert [p.model_dump() for p in a] == [p.model_dump() for p in b]
    other = [
        pairs_of(data, RubricParams(min_margin=0), one.model_copy(update={"seed": s}))[0]
        for s in (1, 2, 3)
    ]
    assert any([p.reason for p in o] != [p.reason for p in a] for o in other)


def test_native_protocol_pairs_are_function_calls(task_by_id) -> None:
    from repo_agent.formats import validate_preference_row
    from repo_agent.policies.oracle import OraclePolicy
    from repo_agent.runtime.protocol import ParseError, parse_action
    from repo_agent.runtime.tools import openai_tool_schemas

    task = task_by_id["a_binary_search"]
    steps: list = []
    run_episodes(
        [RunSpec(task, "n:teacher:0")],
        OraclePolicy([task], protocol="native"),
        AgentConfig(tool_protocol="native", test_policy="never"),
        lambda s, _line: steps.extend(s),
    )
    params = PairParams(corruptions_per_step=8)
    pairs, metrics = build_pairs(steps, RubricParams(), params, "native")
    assert metrics["pairs"] > 0
    reasons = {p.reason for p in pairs}
    assert {"broken_json", "exact_repeat"} <= reasons
    for p in pairs:
        bad = Message.model_validate(p.row["non_preferred_output"][0])
        good = Message.model_validate(p.row["preferred_output"][0])
        assert not isinstance(parse_action(good, "native"), ParseError)
        if p.reason in {"broken_json", "unknown_tool", "missing_arg"}:
            assert bad.tool_calls and isinstance(parse_action(bad, "native"), ParseError)
        if p.reason == "exact_repeat":
            assert bad.tool_calls and not isinstance(parse_action(bad, "native"), ParseError)
        assert (
            any(m.get("role") == "tool" for m in p.row["input"]["messages"])
            or len(p.row["input"]["messages"]) == 2
        )
        # the tools go inside input, where OpenAI's and Together's preference formats want them
        assert p.row["input"]["tools"] == openai_tool_schemas() and "tools" not in p.row
        assert validate_preference_row(p.row).input.tools is not None
