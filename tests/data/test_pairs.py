"""Preference pairs from a real oracle run (teacher), a garbage-emitting student and the
oracle's labels of the student's states; margins hand-worked from the rubric."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import pytest

from repo_agent.data.config import PairParams, RubricParams
from repo_agent.data.pairs import PAIR_FORMAT, PairExample, build_pairs, student_reason
from repo_agent.data.rubric import score
from repo_agent.formats import validate_preference_row
from repo_agent.policies.oracle import OraclePolicy
from repo_agent.policies.scripted import ScriptedPolicy
from repo_agent.records import Message, StepRecord, TeacherLabel
from repo_agent.runtime.agent import RunSpec, run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.policy import Policy, PolicyRequest
from repo_agent.runtime.task import Task

TASKS = ("a_binary_search", "a_gcd_lcm")
LIST = '{"type":"tool_call","name":"list_files","args":{"rel_dir":"."}}'  # compact, not canonical
STUDENT_SCRIPT = [
    "hello",  # invalid_json
    LIST,  # the oracle's own action, written differently: margin 0
    LIST,  # exact repeat: margin = loop_penalty
    '{"type":"tool_call","name":"bash","args":{}}',  # unknown_tool
    '{"type":"final","summary":"done"}',  # premature final: margin 3
]
ALL = PairParams(corruptions_per_step=8)  # every corruption that applies, so no rng choice


@dataclass(frozen=True)
class Data:
    teacher: list[StepRecord]
    student: list[StepRecord]
    labels: list[TeacherLabel]


def _steps(tasks: list[Task], policy: Policy, role: str) -> list[StepRecord]:
    done: list[StepRecord] = []
    specs = [RunSpec(t, f"{t.id}:{role}:0") for t in tasks]
    run_episodes(specs, policy, AgentConfig(test_policy="never"), lambda s, _: done.extend(s))
    return sorted(done, key=lambda s: (s.run_id, s.step))


@pytest.fixture(scope="module")
def data(task_by_id: dict[str, Task]) -> Data:
    tasks = [task_by_id[t] for t in TASKS]
    teacher = _steps(tasks, OraclePolicy(tasks), "teacher")
    student = _steps(tasks, ScriptedPolicy(STUDENT_SCRIPT), "student")
    oracle = OraclePolicy(tasks, name="teacher")
    reqs = [
        PolicyRequest(task_id=s.task_id, run_id=s.run_id, step=s.step, messages=s.messages)
        for s in student
    ]
    labels = [
        TeacherLabel(run_id=s.run_id, step=s.step, output=c.message)
        for s, c in zip(student, oracle.complete(reqs), strict=True)
    ]
    return Data(teacher, student, labels)


def pairs_of(
    d: Data, rubric: RubricParams, params: PairParams = ALL
) -> tuple[list[PairExample], dict]:
    return build_pairs(d.teacher, d.student, d.labels, rubric, params)


def test_the_runs_are_what_the_hand_worked_margins_assume(data: Data) -> None:
    for run in TASKS:
        names = [
            json.loads(s.raw_output.content or "").get("name", "final")
            for s in data.teacher
            if s.task_id == run
        ]
        assert names == ["list_files", "grep", "read_file", "write_file", "final"]
    codes = [(s.parse_error, s.loop_flags) for s in data.student if s.task_id == TASKS[0]]
    assert codes == [
        ("invalid_json", []),
        (None, []),
        (None, ["exact_repeat"]),
        ("unknown_tool", []),
        (None, []),
    ]


def test_counts_by_source_and_reason(data: Data) -> None:
    # Per task, with loop_penalty 1 and min_margin 1.5 (teacher scores: list 0, grep 0,
    # read +1 read-after-grep, write +2 localised, final 0):
    #   list:  broken/unknown/missing 10, premature 3                         -> 4 kept
    #   grep:  broken/unknown/missing 10, premature 3; exact repeat 1         -> 4 kept, 1 dropped
    #   read:  hard 11, exact repeat 2, repeated grep 2, premature 4, write-before-read 4 -> 7
    #   write: hard 12, exact repeat 2, tiny re-read 3, repeated grep 3, premature 5      -> 7
    #   final: hard 10; exact repeat -1, tiny re-read 1, repeated grep 1      -> 3 kept, 3 dropped
    #   student: invalid 10, same action 0, exact repeat 1, unknown 10, final 3 -> 3 kept
    pairs, m = pairs_of(data, RubricParams(min_margin=1.5))
    assert m["by_source"] == {"corruption": 50, "student": 6}
    assert m["by_reason"] == {
        "broken_json": 10,
        "exact_repeat": 4,
        "missing_arg": 10,
        "premature_final": 8,
        "repeated_grep": 4,
        "student_invalid_json": 2,
        "student_unknown_tool": 2,
        "student_worse_action": 2,
        "tiny_reread": 2,
        "unknown_tool": 10,
        "write_before_read": 2,
    }
    assert m["pairs"] == len(pairs) == 56
    assert m["candidates"] == 68
    assert m["dropped_low_margin"] == 12
    assert m["teacher_steps_kept"] == 10
    assert m["pairs_per_kept_step"] == 5.6
    assert m["margin"] == {
        "mean": round(sum(p.margin for p in pairs) / 56, 4),
        "min": 2.0,
        "max": 12.0,
    }
    assert Counter(p.source for p in pairs) == m["by_source"]


def test_student_pairs_use_the_label_as_preferred(data: Data) -> None:
    pairs, _ = pairs_of(data, RubricParams(min_margin=1.5))
    student = [p for p in pairs if p.source == "student"]
    labels = {lb.output.content for lb in data.labels}
    by_state = {json.dumps([m.dump() for m in s.messages]): s for s in data.student}
    for p in student:
        step = by_state[json.dumps(p.row["input"]["messages"])]
        assert p.row["non_preferred_output"] == [step.raw_output.dump()]
        assert p.row["preferred_output"][0]["content"] in labels
        assert p.reason == student_reason(step)
        assert p.task_id == step.task_id


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


@pytest.mark.parametrize("use_student", [True, False])
def test_raising_min_margin_keeps_fewer_pairs(data: Data, use_student: bool) -> None:
    params = ALL.model_copy(update={"use_student": use_student})
    counts = []
    for min_margin in (0, 1, 1.5, 2.5, 3.5, 10.5, 12.5):
        pairs, m = pairs_of(data, RubricParams(min_margin=min_margin), params)
        assert all(p.margin >= min_margin for p in pairs)
        assert m["candidates"] == m["pairs"] + m["dropped_low_margin"]
        counts.append(len(pairs))
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[3] > counts[-2] > 0
    assert counts[-1] == 0  # no margin exceeds 12 (write +2 against -10)


def test_loop_penalty_raises_loop_margins(data: Data) -> None:
    loops = PairParams(
        use_student=False,
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
    # (1 -> 2); the student's repeated list_files (1 -> 2).
    assert Counter(reason for reason, _ in gained) == {
        "exact_repeat": 2,
        "tiny_reread": 2,
        "repeated_grep": 2,
        "student_exact_repeat": 2,
    }
    assert m2["by_reason"]["student_exact_repeat"] == 2
    assert "student_exact_repeat" not in m1["by_reason"]
    assert m2["pairs"] == m1["pairs"] + 8
    assert m2["dropped_low_margin"] == m1["dropped_low_margin"] - 8


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
    pairs, m = build_pairs([], [], [], RubricParams(), PairParams())
    assert pairs == []
    assert m["pairs"] == m["candidates"] == m["teacher_steps_kept"] == 0
    assert m["by_source"] == {} and m["margin"] == {"mean": 0.0, "min": 0.0, "max": 0.0}


def test_corruptions_per_step_bounds_corruption_candidates(data: Data) -> None:
    rubric = RubricParams(min_margin=0)
    for n in (0, 1, 2):
        pairs, m = pairs_of(data, rubric, PairParams(use_student=False, corruptions_per_step=n))
        assert m["candidates"] == n * m["teacher_steps_kept"]  # >= n apply on every step
        assert {p.source for p in pairs} <= {"corruption"}


def test_use_student_false_makes_no_student_pairs(data: Data) -> None:
    pairs, m = pairs_of(data, RubricParams(), ALL.model_copy(update={"use_student": False}))
    assert "student" not in m["by_source"] and all(p.source == "corruption" for p in pairs)


def test_only_labelled_parseable_different_student_steps_are_paired(data: Data) -> None:
    rubric = RubricParams(min_margin=0)
    params = PairParams(corruptions_per_step=0)
    _, m = build_pairs([], data.student, data.labels, rubric, params)
    assert m["candidates"] == 10
    _, m = build_pairs([], data.student, [], rubric, params)
    assert m["candidates"] == 0
    broken = [
        lb.model_copy(update={"output": Message(role="assistant", content="{")})
        for lb in data.labels
    ]
    _, m = build_pairs([], data.student, broken, rubric, params)
    assert m["candidates"] == 0
    same = [TeacherLabel(run_id=s.run_id, step=s.step, output=s.raw_output) for s in data.student]
    _, m = build_pairs([], data.student, same, rubric, params)
    assert m["candidates"] == 0


def test_teacher_steps_that_are_not_kept_are_not_corrupted(data: Data) -> None:
    flagged = [s.model_copy(update={"loop_flags": ["exact_repeat"]}) for s in data.teacher]
    _, m = build_pairs(flagged, [], [], RubricParams(), PairParams())
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


def test_student_reason() -> None:
    base = dict(
        task_id="t",
        run_id="r",
        policy="p",
        step=0,
        messages=[],
        raw_output=Message(role="assistant", content="x"),
    )
    assert student_reason(StepRecord(**base, parse_error="missing_arg")) == "student_missing_arg"
    flags = ["tiny_reread", "exact_repeat"]
    assert student_reason(StepRecord(**base, loop_flags=flags)) == "student_tiny_reread"
    assert student_reason(StepRecord(**base)) == "student_worse_action"


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
    pairs, metrics = build_pairs(steps, [], [], RubricParams(), params, "native")
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
