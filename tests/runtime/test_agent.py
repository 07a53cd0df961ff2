"""The agent loop, driven by the scripted policy on a builtin task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repo_agent.policies.scripted import ScriptedPolicy
from repo_agent.records import Completion, Message, NativeToolCall, ResultLine, StepRecord
from repo_agent.runtime import agent as agent_module
from repo_agent.runtime.agent import Episode, RunSpec, run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.protocol import (
    PROTOCOL_ERROR_PREFIX,
    REFLECTION_PREFIX,
    TOOL_RESULT_PREFIX,
    system_prompt,
)
from repo_agent.runtime.task import Task
from repo_agent.runtime.tools import openai_tool_schemas
from repo_agent.runtime.workspace import Workspace

# The run result fields, exactly as DESIGN.md lists them.
DESIGN_FIELDS = {
    "task_id", "run_id", "success", "steps", "tool_calls", "files_touched", "error",
    "duration_s", "final_summary", "test_output", "metadata", "reflection_count",
    "loop_detections", "parse_errors", "test_runs", "tool_breakdown",
}  # fmt: skip
METADATA_FIELDS = {"difficulty", "category", "expected_files"}

FINAL = '{"type":"final","summary":"done"}'


def call(name: str, **args: object) -> str:
    return json.dumps({"type": "tool_call", "name": name, "args": args})


def run(
    task: Task, script: list, runs: int = 1, **config: object
) -> tuple[list[tuple[list[StepRecord], ResultLine]], ScriptedPolicy]:
    """Run the script on `task` and return (steps, result line) per run."""
    policy = ScriptedPolicy(script)
    cfg = AgentConfig(**{"test_policy": "never", **config})
    done: list[tuple[list[StepRecord], ResultLine]] = []
    specs = [RunSpec(task, f"{task.id}:scripted:{k}", seed=k) for k in range(runs)]
    run_episodes(specs, policy, cfg, lambda steps, line: done.append((steps, line)))
    return done, policy


def one(task: Task, script: list, **config: object):
    done, policy = run(task, script, **config)
    [(steps, line)] = done
    return steps, line, policy


def test_a_clean_run(bsearch_task: Task) -> None:
    steps, line, policy = one(bsearch_task, [call("list_files"), FINAL])
    r = line.result
    assert (r.success, r.steps, r.tool_calls, r.error) == (False, 2, 1, None)
    assert r.final_summary == "done" and r.test_output is None and r.test_runs == 0
    assert r.tool_breakdown == {"list_files": 1}
    assert [s.step for s in steps] == [0, 1]
    assert "bsearch.py" in steps[0].observation
    # The policy first sees exactly the system prompt and the goal.
    first = policy.seen[0].messages
    assert [m.role for m in first] == ["system", "user"]
    assert first[0].content == system_prompt("json")
    assert first[1].content == f"Task: {bsearch_task.spec.goal}"
    # Each step records exactly what the policy saw.
    assert [s.messages for s in steps] == [req.messages for req in policy.seen]
    second = policy.seen[1].messages
    assert second[-1].content.startswith(f"{TOOL_RESULT_PREFIX} list_files\n")


def test_result_record_has_exactly_the_design_fields(bsearch_task: Task) -> None:
    _, line, _ = one(bsearch_task, [FINAL])
    data = json.loads(line.result.model_dump_json())
    assert set(data) == DESIGN_FIELDS
    assert set(data["metadata"]) == METADATA_FIELDS
    assert data["metadata"] == {
        "difficulty": "easy",
        "category": "searching",
        "expected_files": ["bsearch.py"],
    }


def test_parse_errors_are_counted_and_answered(bsearch_task: Task) -> None:
    script = [
        "I think I should list the files.",
        call("delete_file", rel_path="x"),
        call("list_files"),
        '{"type":"final"}',
        FINAL,
    ]
    steps, line, policy = one(bsearch_task, script)
    r = line.result
    assert r.parse_errors == 3 and r.error is None and r.steps == 5
    assert r.tool_calls == 1 and r.final_summary == "done"
    assert [s.parse_error for s in steps] == [
        "invalid_json",
        "unknown_tool",
        None,
        "bad_summary",
        None,
    ]
    assert steps[1].parse_error_detail and "delete_file" in steps[1].parse_error_detail
    for i in (0, 1, 3):
        assert steps[i].action is None
        assert steps[i].observation.startswith(f"{PROTOCOL_ERROR_PREFIX} {steps[i].parse_error}:")
    # The corrective message is what the policy sees next, right after its bad output.
    nxt = policy.seen[1].messages
    assert nxt[-2] == Message(role="assistant", content="I think I should list the files.")
    assert nxt[-1].role == "user" and nxt[-1].content == steps[0].observation


def test_consecutive_parse_errors_end_the_run(bsearch_task: Task) -> None:
    steps, line, _ = one(bsearch_task, ["nope", "[]", "   "], max_consecutive_parse_errors=3)
    r = line.result
    assert r.steps == 3 and r.parse_errors == 3 and not r.success
    assert r.error == "3 consecutive parse errors (last: empty)"
    assert [s.parse_error for s in steps] == ["invalid_json", "not_one_object", "empty"]


def test_a_valid_step_resets_the_consecutive_count(bsearch_task: Task) -> None:
    script = ["x", "y", call("list_files"), "z", "w", FINAL]
    _, line, _ = one(bsearch_task, script, max_consecutive_parse_errors=3)
    assert line.result.error is None and line.result.parse_errors == 4


def test_loops_are_detected_and_answered_with_reflection(bsearch_task: Task) -> None:
    script = [
        call("list_files"),
        call("list_files", thought="again"),  # exact repeat
        call("read_file", rel_path="bsearch.py"),
        call("read_file", rel_path="bsearch.py", max_chars=10),  # tiny re-read
        call("grep", pattern="def binary_search"),
        call("list_files", rel_dir="tests"),
        call("grep", pattern="def binary_search", max_hits=3),  # repeated grep
        FINAL,
    ]
    steps, line, _ = one(bsearch_task, script)
    r = line.result
    assert r.loop_detections == 3 and r.reflection_count == 3
    assert [s.loop_flags for s in steps] == [
        [], ["exact_repeat"], [], ["tiny_reread"], [], [], ["repeat_grep"], [],
    ]  # fmt: skip
    for i in (1, 3, 6):
        assert steps[i].observation.startswith(REFLECTION_PREFIX)
        assert not steps[i].tool_error
    assert r.tool_calls == 7
    assert r.tool_breakdown == {"list_files": 3, "read_file": 2, "grep": 2}


def test_max_steps_ends_the_run(bsearch_task: Task) -> None:
    script = [call("list_files", rel_dir=d) for d in (".", "tests", ".", "tests", ".", "tests")]
    steps, line, _ = one(bsearch_task, script, max_steps=4)
    assert line.result.steps == 4 and len(steps) == 4
    assert line.result.error == "step limit reached (max_steps=4)"
    assert line.result.final_summary is None


def test_wall_time_limit_ends_the_run(bsearch_task: Task) -> None:
    _, line, _ = one(
        bsearch_task, [call("list_files"), call("list_files", rel_dir="tests")], max_wall_s=1e-9
    )
    assert line.result.steps == 1 and "wall-time limit" in line.result.error


def test_after_write_runs_the_tests_and_shows_them(bsearch_task: Task) -> None:
    original = bsearch_task.original_text("bsearch.py")
    fixed = bsearch_task.fix["bsearch.py"]
    script = [
        call("write_file", rel_path="bsearch.py", content=original),
        call("write_file", rel_path="./bsearch.py", content=fixed),
        FINAL,
    ]
    steps, line, _ = one(bsearch_task, script, test_policy="after_write")
    r = line.result
    assert "[tests failed]" in steps[0].observation
    assert "[tests passed]" in steps[1].observation
    assert r.test_runs == 3  # after each write, then once at the end
    assert r.success and r.files_touched == ["bsearch.py"]
    assert "passed" in r.test_output
    assert "-    while lo < hi:" in line.diff and "+    while lo <= hi:" in line.diff


def test_on_final_decides_success(bsearch_task: Task) -> None:
    fixed = bsearch_task.fix["bsearch.py"]
    steps, line, _ = one(
        bsearch_task,
        [call("write_file", rel_path="bsearch.py", content=fixed), FINAL],
        test_policy="on_final",
    )
    assert line.result.success and line.result.test_runs == 1
    assert "[tests" not in steps[0].observation  # tests are not shown to the agent


def test_on_final_without_changes_does_not_run_tests(bsearch_task: Task) -> None:
    _, line, _ = one(bsearch_task, [FINAL], test_policy="on_final")
    assert not line.result.success and line.result.test_runs == 0
    assert line.result.test_output.startswith("(not run")
    assert line.diff == ""


def test_odd_spellings_of_a_path_count_as_the_file(bsearch_task: Task) -> None:
    fixed = bsearch_task.fix["bsearch.py"]
    script = [
        call("write_file", rel_path=".//bsearch.py", content="# wrong\n"),
        call("write_file", rel_path="././bsearch.py", content=fixed),
        FINAL,
    ]
    _, line, _ = one(bsearch_task, script, test_policy="on_final")
    assert line.result.files_touched == ["bsearch.py"]
    assert line.result.success and "+    while lo <= hi:" in line.diff


def test_never_runs_no_tests(bsearch_task: Task) -> None:
    fixed = bsearch_task.fix["bsearch.py"]
    _, line, _ = one(
        bsearch_task, [call("write_file", rel_path="bsearch.py", content=fixed), FINAL]
    )
    assert (
        not line.result.success and line.result.test_runs == 0 and line.result.test_output is None
    )


def test_files_touched(bsearch_task: Task) -> None:
    script = [
        call("write_file", rel_path="./notes/todo.txt", content="a"),
        call("write_file", rel_path="bsearch.py", content="# broken\n"),
        call("write_file", rel_path="../escape.py", content="x"),  # refused: not touched
        call("write_file", rel_path="notes/todo.txt", content="b"),
        call("write_file", rel_path=".git/config", content="x"),  # refused
        FINAL,
    ]
    steps, line, _ = one(bsearch_task, script)
    assert line.result.files_touched == ["notes/todo.txt", "bsearch.py"]
    assert [s.tool_error for s in steps[:5]] == [False, False, True, False, True]
    assert steps[2].observation.startswith("error:")
    assert "+b" in line.diff and "-def binary_search" in line.diff
    # The task's own files are never modified.
    assert "def binary_search" in bsearch_task.original_text("bsearch.py")


def test_long_observations_are_cut(bsearch_task: Task) -> None:
    big = "x = 1\n" * 2000
    steps, _, _ = one(
        bsearch_task,
        [
            call("write_file", rel_path="big.py", content=big),
            call("read_file", rel_path="big.py"),
            FINAL,
        ],
        max_observation_chars=300,
    )
    obs = steps[1].observation
    assert obs.startswith("x = 1\n") and "[truncated:" in obs and len(obs) < 400


def test_context_is_fitted(bsearch_task: Task) -> None:
    script = [call("read_file", rel_path="bsearch.py", max_chars=900 + i) for i in range(6)] + [
        FINAL
    ]
    _, _, policy = one(bsearch_task, script, max_context_chars=2000)
    last = policy.seen[-1].messages
    assert [m.role for m in last[:3]] == ["system", "user", "assistant"]
    assert len(last) < 2 + 2 * 6


def test_native_protocol(bsearch_task: Task) -> None:
    def native(name: str, arguments: str, call_id: str) -> Message:
        tc = NativeToolCall(id=call_id, function={"name": name, "arguments": arguments})
        return Message(role="assistant", content=None, tool_calls=[tc])

    script = [
        native("list_files", "{}", "c1"),
        native("rm", "{}", "c2"),  # parse error, answered per call id
        native("read_file", '{"rel_path":"bsearch.py","thought":"look"}', "c3"),
        Message(role="assistant", content="Nothing to fix."),
    ]
    steps, line, policy = one(bsearch_task, script, tool_protocol="native")
    r = line.result
    assert r.steps == 4 and r.parse_errors == 1 and r.tool_calls == 2
    assert r.final_summary == "Nothing to fix."
    assert policy.seen[0].tools == openai_tool_schemas()
    assert policy.seen[0].messages[0].content == system_prompt("native")
    after_list = policy.seen[1].messages
    assert after_list[-2].tool_calls[0].id == "c1" and after_list[-2].content == ""
    assert after_list[-1].role == "tool" and after_list[-1].tool_call_id == "c1"
    assert "bsearch.py" in after_list[-1].content
    after_error = policy.seen[2].messages[-1]
    assert after_error.role == "tool" and after_error.tool_call_id == "c2"
    assert after_error.content.startswith(f"{PROTOCOL_ERROR_PREFIX} unknown_tool")
    assert steps[2].action.args == {"rel_path": "bsearch.py", "thought": "look"}
    final_seen = policy.seen[3].messages[-1]
    assert final_seen.role == "tool" and final_seen.content.startswith('"""Classic binary search')


class FailingPolicy:
    """Answers with a policy error (an API that gave up) after `ok` good steps."""

    name = "failing"

    def __init__(self, ok: int) -> None:
        self.ok = ok
        self.calls = 0

    def complete(self, requests: list[PolicyRequest]) -> list[Completion]:
        self.calls += 1
        msg = Message(role="assistant", content=call("list_files"))
        err = "HTTP 500 after 3 retries" if self.calls > self.ok else None
        return [Completion(message=msg, error=err) for _ in requests]


def test_policy_error_ends_the_run(bsearch_task: Task) -> None:
    done: list = []
    run_episodes(
        [RunSpec(bsearch_task, "r0")],
        FailingPolicy(ok=1),
        AgentConfig(test_policy="never"),
        lambda s, line: done.append(line),
    )
    [line] = done
    assert line.result.error == "policy error: HTTP 500 after 3 retries"
    assert line.result.steps == 1


def test_batched_runs_each_replay_the_script(
    bsearch_task: Task, task_by_id: dict[str, Task]
) -> None:
    policy = ScriptedPolicy([call("list_files"), FINAL])
    tasks = [bsearch_task, task_by_id["a_gcd_lcm"], task_by_id["b_dijkstra"]]
    specs = [RunSpec(t, f"{t.id}:{k}", seed=k) for t in tasks for k in range(2)]
    done: list[ResultLine] = []
    stepped: list[int] = []
    run_episodes(
        specs,
        policy,
        AgentConfig(test_policy="never"),
        lambda s, line: done.append(line),
        batch_size=4,
        on_step=stepped.append,
    )
    assert sorted(line.result.run_id for line in done) == sorted(s.run_id for s in specs)
    assert all(line.result.steps == 2 and line.result.error is None for line in done)
    assert max(stepped) == 4
    assert {line.seed for line in done} == {0, 1}


def test_workspaces_are_cleaned_up_even_on_a_crash(
    bsearch_task: Task, monkeypatch: pytest.MonkeyPatch
) -> None:
    roots: list[Path] = []
    create = Workspace.create

    def recording_create(*args, **kwargs) -> Workspace:
        ws = create(*args, **kwargs)
        roots.append(ws.root)
        return ws

    monkeypatch.setattr(agent_module.Workspace, "create", recording_create)

    class Crash(Exception):
        pass

    class CrashingPolicy:
        name = "crash"

        def complete(self, requests: list[PolicyRequest]) -> list[Completion]:
            raise Crash

    specs = [RunSpec(bsearch_task, f"r{k}") for k in range(3)]
    with pytest.raises(Crash):
        run_episodes(specs, CrashingPolicy(), AgentConfig(), lambda s, line: None, batch_size=2)
    assert len(roots) == 2 and not any(r.exists() for r in roots)

    roots.clear()
    run(bsearch_task, [FINAL], runs=2)
    assert len(roots) == 2 and not any(r.exists() for r in roots)


def test_episode_can_be_driven_by_hand(bsearch_task: Task) -> None:
    ep = Episode(RunSpec(bsearch_task, "manual"), AgentConfig(test_policy="never"), "hand")
    req = ep.request()
    assert req.task_id == "a_binary_search" and req.step == 0 and req.tools is None
    ep.advance(req, Completion(message=Message(role="assistant", content=call("list_files"))))
    assert not ep.done and ep.request().step == 1
    ep.advance(ep.request(), Completion(message=Message(role="assistant", content=FINAL)))
    assert ep.done
    steps, line = ep.finish()
    assert len(steps) == 2 and line.policy == "hand" and line.role == "run"
    assert not ep.ws.root.exists()


def test_config_rejects_unknown_and_bad_values() -> None:
    with pytest.raises(ValueError):
        AgentConfig(max_step=3)
    with pytest.raises(ValueError):
        AgentConfig(test_policy="sometimes")
    with pytest.raises(ValueError):
        AgentConfig(max_steps=0)
