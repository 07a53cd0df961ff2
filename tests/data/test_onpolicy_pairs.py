"""On-policy pairs: a student making the SFT student's real mistakes (a memorised file name, an
unknown arg, a repeat, an early final), labelled by the oracle, paired by the rubric."""

from __future__ import annotations

import pytest

from repo_agent.data.config import RubricParams
from repo_agent.data.pairs import onpolicy_pairs, onpolicy_reason
from repo_agent.policies.oracle import OraclePolicy
from repo_agent.policies.scripted import ScriptedPolicy
from repo_agent.records import Message, StepRecord, TeacherLabel
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.task import Task

LIST = '{"type":"tool_call","name":"list_files","args":{"rel_dir":"."}}'
STUDENT = [
    '{"type":"tool_call","name":"read_file","args":{"rel_path":"minheap.py"}}',  # not there
    '{"type":"tool_call","name":"write_file","args":{"rel_path":"a.py","content":"","max_chars":9}}',
    LIST,  # what the teacher does at the start: not a pair
    LIST,  # exact repeat
    '{"type":"final","summary":"done"}',  # the teacher would still act
]


def _run(task: Task) -> tuple[list[StepRecord], list[TeacherLabel]]:
    steps: list[StepRecord] = []
    spec = RunSpec(task, f"{task.id}:onpolicy:0")
    run_episodes(
        [spec],
        ScriptedPolicy(STUDENT),
        AgentConfig(test_policy="never"),
        lambda s, _: steps.extend(s),
    )
    oracle = OraclePolicy([task], name="teacher")
    reqs = [
        PolicyRequest(task_id=s.task_id, run_id=s.run_id, step=s.step, messages=s.messages)
        for s in steps
    ]
    labels = [
        TeacherLabel(run_id=s.run_id, step=s.step, output=c.message)
        for s, c in zip(steps, oracle.complete(reqs), strict=True)
    ]
    return steps, labels


@pytest.fixture(scope="module")
def run(bsearch_task: Task) -> tuple[list[StepRecord], list[TeacherLabel]]:
    return _run(bsearch_task)


def test_each_mistake_gets_its_reason(run: tuple[list[StepRecord], list[TeacherLabel]]) -> None:
    steps, labels = run
    reasons = [onpolicy_reason(s, lb.output, "json") for s, lb in zip(steps, labels, strict=True)]
    assert reasons == [
        "missing_path",
        "unknown_arg",
        "other_action",
        "exact_repeat",
        "premature_final",
    ]


def test_pairs_by_reason_and_the_label_is_preferred(
    run: tuple[list[StepRecord], list[TeacherLabel]],
) -> None:
    steps, labels = run
    pairs, m = onpolicy_pairs(steps, labels, RubricParams(loop_penalty=1, min_margin=1.5))
    assert m["student_steps"] == m["labelled_states"] == 5
    assert m["differing_states"] == 4  # the first list_files is the teacher's own action
    assert m["by_reason"] == {"missing_path": 1, "unknown_arg": 1, "premature_final": 1}
    assert m["dropped_by_reason"] == {"exact_repeat": 1}  # loop penalty 1 < margin 1.5
    assert m["pairs"] == len(pairs) == 3
    assert m["pairs_per_student_step"] == 0.6
    for p in pairs:
        assert p.source == "onpolicy"
        step = next(
            s for s in steps if [x.dump() for x in s.messages] == p.row["input"]["messages"]
        )
        label = next(lb for lb in labels if (lb.run_id, lb.step) == (step.run_id, step.step))
        assert p.row["preferred_output"] == [label.output.dump()]
        assert p.row["non_preferred_output"] == [step.raw_output.dump()]


def test_a_higher_loop_penalty_keeps_the_repeat(
    run: tuple[list[StepRecord], list[TeacherLabel]],
) -> None:
    steps, labels = run
    _, m = onpolicy_pairs(steps, labels, RubricParams(loop_penalty=2, min_margin=1.5))
    assert m["by_reason"]["exact_repeat"] == 1


def test_unlabelled_states_and_unparsable_labels_give_no_pair(
    run: tuple[list[StepRecord], list[TeacherLabel]],
) -> None:
    steps, labels = run
    broken = [
        lb.model_copy(update={"output": Message(role="assistant", content="{")}) for lb in labels
    ]
    pairs, m = onpolicy_pairs(steps, broken[:2] + labels[2:3], RubricParams(min_margin=0))
    assert pairs == [] and m["labelled_states"] == 3 and m["differing_states"] == 0
