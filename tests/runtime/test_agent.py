"""The agent loop, driven by the scripted policy on a builtin task."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import fake_key

from repo_agent.policies.scripted import ScriptedPolicy
from repo_agent.records import (
    Completion,
    FinalAction,
    Message,
    NativeToolCall,
    ResultLine,
    StepRecord,
    ToolCallAction,
)
from repo_agent.runtime import episode as episode_module
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import Episode, RunSpec, step_counts
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.protocol import (
    PROTOCOL_ERROR_PREFIX,
    REFLECTION_PREFIX,
    TOOL_RESULT_PREFIX,
    system_prompt,
)
from repo_agent.runtime.sandbox import SandboxError
from repo_agent.runtime.task import Task, TaskSpec
from repo_agent.runtime.tools import openai_tool_schemas
from repo_agent.runtime.workspace import Workspace

# The run result fields, exactly as docs/architecture.md lists them.
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


class CutPolicy(ScriptedPolicy):
    """Marks every reply as cut by the token budget (as a policy does at max_new_tokens)."""

    def complete(self, requests: list[PolicyRequest]) -> list[Completion]:
        return [c.model_copy(update={"truncated": True}) for c in super().complete(requests)]


def test_a_reply_cut_by_the_token_budget_is_a_truncated_parse_error(bsearch_task: Task) -> None:
    policy = CutPolicy(['{"type":"tool_call","name":"read_file","args":{"rel_path":"bs', FINAL])
    done: list[tuple[list[StepRecord], ResultLine]] = []
    spec = RunSpec(bsearch_task, "t:cut:0")
    run_episodes([spec], policy, AgentConfig(test_policy="never"), lambda s, r: done.append((s, r)))
    [(steps, line)] = done
    assert [s.parse_error for s in steps] == ["truncated", None]  # a cut reply that parses is kept
    assert steps[0].parse_error_detail.startswith("the reply reached the token budget")
    assert "invalid_json" in steps[0].parse_error_detail
    assert line.result.parse_errors == 1


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
    trusted = True  # its actions are this file's: it may run tests without a sandbox

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

    monkeypatch.setattr(episode_module.Workspace, "create", recording_create)

    class Crash(Exception):
        pass

    class CrashingPolicy:
        name = "crash"
        trusted = True

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


def test_step_counts_follow_from_the_steps() -> None:
    def step(k: int, **fields: object) -> StepRecord:
        out = Message(role="assistant", content="")
        return StepRecord(
            task_id="t", run_id="r", policy="p", step=k, messages=[], raw_output=out, **fields
        )

    grep = ToolCallAction(name="grep", args={"pattern": "x"})
    read = ToolCallAction(name="read_file", args={"rel_path": "a.py"})
    steps = [
        step(0, action=grep),
        step(1, parse_error="invalid_json"),
        step(2, action=read),
        step(3, action=grep, loop_flags=["repeat_grep"]),  # reflected, still a call
        step(4, parse_error="empty"),
        step(5, action=FinalAction(summary="done")),
    ]
    assert step_counts(steps) == {
        "steps": 6,
        "tool_calls": 3,
        "tool_breakdown": {"grep": 2, "read_file": 1},
        "reflection_count": 1,
        "loop_detections": 1,
        "parse_errors": 2,
    }
    assert step_counts([])["tool_breakdown"] == {} and step_counts([])["steps"] == 0


def test_config_rejects_unknown_and_bad_values() -> None:
    with pytest.raises(ValueError):
        AgentConfig(max_step=3)
    with pytest.raises(ValueError):
        AgentConfig(test_policy="sometimes")
    with pytest.raises(ValueError):
        AgentConfig(max_steps=0)


# --- hostile runs: keys, wall time, broken test commands, loops ---------------------------------

KEY = fake_key("sk-proj-", 2)
BODY = KEY.removeprefix("sk-proj-")
FRAGMENT = KEY[12:27]  # 15 characters from the middle


def make_task(
    tmp_path: Path, files: dict[str, str], test_cmd: str = "python -m pytest -q tests", **spec
) -> Task:
    """A task whose repository is `files`, written under tmp_path."""
    root = tmp_path / "task_repo"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    fields = {
        "id": "hostile",
        "goal": "Fix app.py.",
        "difficulty": "easy",
        "category": "hostile",
        "expected_files": ["app.py"],
        "test_cmd": test_cmd,
        **spec,
    }
    return Task(spec=TaskSpec(**fields), files={rel: root / rel for rel in files}, fix=None)


def leaks(text: str) -> list[str]:
    return [s for s in (KEY, BODY, FRAGMENT, KEY[-12:]) if s in text]


def dumped(steps: list[StepRecord], line: ResultLine) -> str:
    return "\n".join([*(s.model_dump_json() for s in steps), line.model_dump_json()])


def test_a_key_never_reaches_the_conversation_or_the_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    task = make_task(
        tmp_path,
        {
            "app.py": "def f():\n    return 1\n",
            "settings.env": f"OPENAI_API_KEY={KEY}\n",
            "tests/test_app.py": "from app import f\n\n\ndef test_f():\n    assert f() == 2\n",
        },
    )
    leak_test = (
        "import os\n\n\ndef test_leak():\n"
        "    assert False, (os.environ.get('OPENAI_API_KEY'), open('settings.env').read())\n"
    )
    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)  # JSON escapes hide it from a text scrub
    script = [
        call("write_file", rel_path="tests/test_leak.py", content=leak_test),  # tests print it
        call("read_file", rel_path="settings.env"),  # the observation holds it
        call("list_files", thought=f"the key is {KEY}, or {BODY}, or part: {FRAGMENT}"),
        '{"type":"tool_call","name":"write_file","args":{"rel_path":"app.py","content":"'
        + escaped
        + '"}}',
        Message(
            role="assistant",
            content="",
            tool_calls=[
                NativeToolCall(id=KEY, function={"name": "grep", "arguments": f'["{BODY}"]'})
            ],
        ),
        json.dumps({"type": "final", "summary": f"done {KEY} {BODY} {FRAGMENT}"}),
    ]
    steps, line, policy = one(task, script, test_policy="after_write", max_steps=20)
    assert "[tests failed]" in steps[0].observation and "***" in steps[0].observation
    assert "OPENAI_API_KEY=***" in steps[1].observation
    assert leaks(dumped(steps, line)) == []
    for req in policy.seen:  # nothing the policy is sent holds it either
        assert leaks(json.dumps([m.dump() for m in req.messages])) == []
    assert line.result.final_summary == "done *** *** ***"
    assert "+***" in line.diff  # the escaped key was decoded, then masked before the write


def test_a_policy_error_holding_the_key_is_scrubbed(
    bsearch_task: Task, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    class LeakyFailure(FailingPolicy):
        def complete(self, requests: list[PolicyRequest]) -> list[Completion]:
            msg = Message(role="assistant", content="")
            return [Completion(message=msg, error=f"401: invalid key {BODY}") for _ in requests]

    done: list = []
    run_episodes(
        [RunSpec(bsearch_task, "r0")],
        LeakyFailure(ok=0),
        AgentConfig(),
        lambda s, ln: done.append(ln),
    )
    assert done[0].result.error == "policy error: 401: invalid key ***"


SLOW_CHECK = """import os, sys, time
if not os.path.exists("ran_once"):  # the run after the write hangs; the judge does not
    open("ran_once", "w").close()
    time.sleep(60)
sys.exit(1)
"""


def test_wall_time_bounds_a_test_run_inside_a_step(tmp_path: Path) -> None:
    task = make_task(
        tmp_path, {"app.py": "x = 1\n", "check.py": SLOW_CHECK}, "python check.py", timeout_s=30
    )
    script = [call("write_file", rel_path="app.py", content="x = 2\n"), call("list_files")]
    start = time.monotonic()
    steps, line, _ = one(task, script, test_policy="after_write", max_wall_s=0.5, sandbox="none")
    elapsed = time.monotonic() - start
    assert elapsed < 10  # the test run was given 0.5 s, not the task's 30 s
    r = line.result
    assert r.steps == 1 and r.error == "wall-time limit reached (max_wall_s=0.5)"
    assert "[tests failed]" in steps[0].observation and "timed out" in steps[0].observation


def test_the_deadline_is_given_to_every_tool_call(
    bsearch_task: Task, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float | None] = []
    real = episode_module.execute_tool

    def recording(*args, deadline: float | None = None, **kwargs):
        seen.append(deadline)
        return real(*args, deadline=deadline, **kwargs)

    monkeypatch.setattr(episode_module, "execute_tool", recording)
    ep = Episode(RunSpec(bsearch_task, "r"), AgentConfig(test_policy="never", max_wall_s=7), "h")
    ep.advance(
        ep.request(),
        Completion(message=Message(role="assistant", content=call("grep", pattern="x"))),
    )
    ep.finish()
    assert seen == [ep.started + 7]


def test_past_the_deadline_tests_after_a_write_do_not_run(tmp_path: Path) -> None:
    task = make_task(tmp_path, {"app.py": "x = 1\n", "check.py": SLOW_CHECK}, "python check.py")
    ep = Episode(RunSpec(task, "r"), AgentConfig(test_policy="after_write", max_wall_s=1), "h")
    ep.deadline = time.monotonic() - 1
    write = call("write_file", rel_path="app.py", content="x = 2\n")
    ep.advance(ep.request(), Completion(message=Message(role="assistant", content=write)))
    assert "[tests not run: wall-time limit reached]" in ep.steps[0].observation
    assert ep.test_runs == 0 and ep.error.startswith("wall-time limit reached")
    ep.ws.cleanup()


@pytest.mark.parametrize("test_policy", ["after_write", "on_final"])
def test_a_test_command_that_cannot_start_ends_the_run(tmp_path: Path, test_policy: str) -> None:
    task = make_task(tmp_path, {"app.py": "x = 1\n"}, "no-such-test-runner-xyz -q")
    script = [call("write_file", rel_path="app.py", content="x = 2\n"), call("list_files"), FINAL]
    steps, line, _ = one(task, script, test_policy=test_policy)
    r = line.result
    assert r.error is not None and r.error.startswith("test command cannot start: ")
    assert r.error.count("cannot start") == 1 and "no-such-test-runner-xyz" in r.error
    assert not r.success and r.test_runs == 0
    if test_policy == "after_write":
        assert r.steps == 1 and "[tests could not start]" in steps[0].observation
    else:
        assert r.steps == 3


def test_alternation_is_answered_with_a_reflection(bsearch_task: Task) -> None:
    a, b = call("read_file", rel_path="bsearch.py"), call("list_files", rel_dir="tests")
    steps, line, _ = one(bsearch_task, [a, b, a, b, a, FINAL])
    assert [s.loop_flags for s in steps] == [[], [], [], ["alternation"], ["alternation"], []]
    assert steps[3].observation.startswith(REFLECTION_PREFIX)
    assert "back and forth" in steps[3].observation
    assert line.result.loop_detections == 2


def test_loop_window_is_the_agents(bsearch_task: Task) -> None:
    abc = [call("read_file", rel_path=p) for p in ("bsearch.py", "tests/test_bsearch.py")]
    abc.append(call("list_files"))
    _, wide, _ = one(bsearch_task, [*abc, *abc, FINAL], loop_window=6)
    _, narrow, _ = one(bsearch_task, [*abc, *abc, FINAL], loop_window=4)
    assert wide.result.loop_detections == 1 and narrow.result.loop_detections == 0


def test_spellings_of_one_read_are_a_loop(bsearch_task: Task) -> None:
    reads = [
        call("read_file", rel_path=p)
        for p in ("bsearch.py", "./bsearch.py", "bsearch.py ", "././bsearch.py")
    ]
    steps, line, _ = one(bsearch_task, [*reads, FINAL])
    assert line.result.loop_detections == 3
    assert [s.loop_flags for s in steps[:4]] == [
        [],
        ["exact_repeat"],
        ["exact_repeat"],
        ["exact_repeat"],
    ]


def test_duplicate_keys_are_a_parse_error(bsearch_task: Task) -> None:
    dup = '{"type":"final","type":"tool_call","name":"list_files","args":{}}'
    steps, line, _ = one(bsearch_task, [dup, FINAL])
    assert steps[0].parse_error == "duplicate_key" and steps[0].action is None
    assert line.result.parse_errors == 1 and line.result.tool_calls == 0


class ModelPolicy:
    """A stand-in for a model's policy: no `trusted` attribute, so untrusted."""

    name = "model"

    def __init__(self) -> None:
        self.calls = 0

    def complete(self, requests: list[PolicyRequest]) -> list[Completion]:
        self.calls += 1
        return [Completion(message=Message(role="assistant", content=FINAL)) for _ in requests]


FINAL = '{"type":"final","summary":"done"}'


def test_an_untrusted_policy_without_a_sandbox_is_refused_before_its_first_request(
    bsearch_task: Task, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap
    policy, done = ModelPolicy(), []
    specs = [RunSpec(bsearch_task, "r0")]
    with pytest.raises(SandboxError, match="policy 'model' writes code we do not control"):
        run_episodes(specs, policy, AgentConfig(), lambda s, line: done.append(line))
    assert policy.calls == 0 and done == []
    # The user's explicit `none`, or no test runs at all, lets it run.
    for config in (AgentConfig(sandbox="none"), AgentConfig(test_policy="never")):
        run_episodes(specs, policy, config, lambda s, line: done.append(line))
    assert policy.calls == 2 and len(done) == 2


def test_judging_on_threads_keeps_the_order_runs_ended_in(builtin_tasks: list[Task]) -> None:
    """Tests run on judge threads; results still arrive in the order the runs ended."""
    from repo_agent.policies.oracle import OraclePolicy

    tasks = builtin_tasks[:6]
    specs = [RunSpec(t, f"{t.id}:0") for t in tasks]
    orders = []
    for judges in (1, 2):
        seen: list[str] = []
        run_episodes(
            specs,
            OraclePolicy(tasks),
            AgentConfig(sandbox="none"),
            lambda s, line, seen=seen: seen.append(line.result.run_id),
            batch_size=3,
            judges=judges,
        )
        orders.append(seen)
    assert orders[0] == orders[1] and len(orders[0]) == 6
