"""The offline teacher: solves every builtin task, and acts well from a student's state."""

from __future__ import annotations

import json
import random
import re
import statistics
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from conftest import write_quixbugs

from repo_agent.policies.config import OracleConfig
from repo_agent.policies.factory import make_policy
from repo_agent.policies.oracle import (
    MAX_PLAN_STEPS,
    OracleError,
    OraclePolicy,
    explore_plan,
    localisation_pattern,
    workspace_files,
)
from repo_agent.records import (
    Completion,
    FinalAction,
    Message,
    ResultLine,
    StepRecord,
    ToolCallAction,
)
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig, ToolProtocol
from repo_agent.runtime.episode import Episode, RunSpec
from repo_agent.runtime.loops import LoopDetector
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.protocol import action_message, parse_action
from repo_agent.runtime.task import Task, load_task_dir
from repo_agent.suites.quixbugs import load_quixbugs

CHUNKS = 4


def call(name: str, **args: object) -> str:
    return json.dumps({"type": "tool_call", "name": name, "args": args})


def run_oracle(
    tasks: list[Task],
    explore: float = 0.0,
    seeds: range = range(1),
    test_policy: str = "on_final",
    protocol: ToolProtocol = "json",
    max_context_chars: int = 8000,
) -> list[tuple[list[StepRecord], ResultLine]]:
    policy = OraclePolicy(tasks, protocol=protocol, explore=explore)
    specs = [RunSpec(t, f"{t.id}:oracle:{s}", seed=s) for t in tasks for s in seeds]
    done: list[tuple[list[StepRecord], ResultLine]] = []
    config = AgentConfig(
        test_policy=test_policy, tool_protocol=protocol, max_context_chars=max_context_chars
    )
    run_episodes(specs, policy, config, lambda steps, line: done.append((steps, line)))
    return done


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_oracle_solves_every_builtin_task(builtin_tasks: list[Task], chunk: int) -> None:
    # Split in chunks so xdist can spread the ~44 test runs; each chunk's mean steps <= 7
    # implies the suite's mean steps <= 7.
    tasks = builtin_tasks[chunk::CHUNKS]
    done = run_oracle(tasks)
    assert sorted(line.result.task_id for _, line in done) == sorted(t.id for t in tasks)
    for _, line in done:
        r = line.result
        assert r.success, (r.task_id, r.error, r.test_output)
        assert r.error is None and r.parse_errors == 0 and r.loop_detections == 0
        assert r.files_touched == r.metadata.expected_files
        assert r.test_runs == 1
    assert statistics.mean(line.result.steps for _, line in done) <= 7
    assert max(line.result.steps for _, line in done) <= 7


def test_oracle_plan(bsearch_task: Task) -> None:
    [(steps, line)] = run_oracle([bsearch_task], test_policy="never")
    assert [s.action.name if isinstance(s.action, ToolCallAction) else "final" for s in steps] == [
        "list_files", "grep", "read_file", "write_file", "final",
    ]  # fmt: skip
    assert steps[1].action.args == {"pattern": r"def binary_search\b", "rel_dir": "."}
    assert steps[3].action.args["content"] == bsearch_task.fix["bsearch.py"]
    assert line.result.final_summary == "Fixed the bug in bsearch.py."


def test_oracle_native_protocol(bsearch_task: Task) -> None:
    [(steps, line)] = run_oracle([bsearch_task], protocol="native")
    assert line.result.success and line.result.steps == 5
    assert steps[0].raw_output.tool_calls[0].id == "call_0"


# --- from a student's state --------------------------------------------------------------------


def state_after(task: Task, script: list, protocol: ToolProtocol = "json") -> PolicyRequest:
    """The request an oracle would see after a student produced `script` (really executed)."""
    episode = Episode(
        RunSpec(task, "student:0"),
        AgentConfig(test_policy="never", tool_protocol=protocol),
        "student",
    )
    try:
        for item in script:
            msg = item if isinstance(item, Message) else Message(role="assistant", content=item)
            episode.advance(episode.request(), Completion(message=msg))
        assert not episode.done
        return episode.request()
    finally:
        episode.ws.cleanup()


def oracle_next(
    task: Task, script: list, protocol: ToolProtocol = "json"
) -> ToolCallAction | FinalAction:
    return OraclePolicy([task], protocol=protocol).next_action(state_after(task, script, protocol))


def test_from_the_start(bsearch_task: Task) -> None:
    assert oracle_next(bsearch_task, []) == ToolCallAction(name="list_files", args={"rel_dir": "."})


def test_after_garbage(bsearch_task: Task) -> None:
    script = ["let me think", '{"type":"tool_call","name":"shell","args":{}}']
    assert oracle_next(bsearch_task, script) == ToolCallAction(
        name="list_files", args={"rel_dir": "."}
    )


def test_after_listing_it_greps(bsearch_task: Task) -> None:
    assert oracle_next(bsearch_task, [call("list_files")]) == ToolCallAction(
        name="grep", args={"pattern": r"def binary_search\b", "rel_dir": "."}
    )


def test_after_a_failed_listing_it_lists_again(bsearch_task: Task) -> None:
    action = oracle_next(bsearch_task, [call("list_files", rel_dir="nope")])
    assert action == ToolCallAction(name="list_files", args={"rel_dir": "."})


def test_after_a_grep_hit_it_reads_the_whole_file(bsearch_task: Task) -> None:
    action = oracle_next(bsearch_task, [call("grep", pattern="binary_search")])
    assert isinstance(action, ToolCallAction) and action.name == "read_file"
    assert action.args["rel_path"] == "bsearch.py"
    assert action.args["max_chars"] >= len(bsearch_task.original_text("bsearch.py"))


def test_after_a_truncated_read_it_reads_in_full(bsearch_task: Task) -> None:
    action = oracle_next(bsearch_task, [call("read_file", rel_path="bsearch.py", max_chars=80)])
    assert action.name == "read_file" and action.args["max_chars"] >= 500


def test_after_a_tiny_reread_loop_it_still_reads_in_full(bsearch_task: Task) -> None:
    # The second read is answered by a reflection, not executed: the file is not read in full.
    script = [
        call("read_file", rel_path="bsearch.py", max_chars=80),
        call("read_file", rel_path="bsearch.py", max_chars=20),
    ]
    action = oracle_next(bsearch_task, script)
    assert action.name == "read_file" and action.args["max_chars"] >= 500


def test_after_a_full_read_it_writes_the_fix(bsearch_task: Task) -> None:
    for script in (
        [call("read_file", rel_path="bsearch.py")],
        [call("list_files"), call("read_file", rel_path="./bsearch.py", max_chars=4000)],
    ):
        assert oracle_next(bsearch_task, script) == ToolCallAction(
            name="write_file",
            args={"rel_path": "bsearch.py", "content": bsearch_task.fix["bsearch.py"]},
        )


def test_after_a_wrong_fix_it_writes_the_right_one(bsearch_task: Task) -> None:
    script = [
        call("read_file", rel_path="bsearch.py"),
        call(
            "write_file",
            rel_path="bsearch.py",
            content="def binary_search(items, target):\n    return 0\n",
        ),
    ]
    action = oracle_next(bsearch_task, script)
    assert action.name == "write_file" and action.args["content"] == bsearch_task.fix["bsearch.py"]


def test_after_the_student_broke_another_file_it_restores_it(bsearch_task: Task) -> None:
    script = [
        call("write_file", rel_path="tests/test_bsearch.py", content="def test_ok():\n    pass\n")
    ]
    action = oracle_next(bsearch_task, script)
    assert action == ToolCallAction(
        name="write_file",
        args={
            "rel_path": "tests/test_bsearch.py",
            "content": bsearch_task.original_text("tests/test_bsearch.py"),
        },
    )


def test_a_new_scratch_file_is_left_alone(bsearch_task: Task) -> None:
    script = [call("write_file", rel_path="notes.txt", content="todo")]
    assert oracle_next(bsearch_task, script).name == "list_files"


def test_after_the_fix_it_finishes(bsearch_task: Task) -> None:
    script = [call("write_file", rel_path="bsearch.py", content=bsearch_task.fix["bsearch.py"])]
    assert oracle_next(bsearch_task, script) == FinalAction(summary="Fixed the bug in bsearch.py.")


def test_a_refused_write_does_not_count(bsearch_task: Task) -> None:
    script = [
        call("read_file", rel_path="bsearch.py"),
        call("write_file", rel_path="../bsearch.py", content=bsearch_task.fix["bsearch.py"]),
    ]
    assert oracle_next(bsearch_task, script).name == "write_file"


def test_cross_module_task_localises_the_right_file(task_by_id: dict[str, Task]) -> None:
    task = task_by_id["a_count_in_range"]
    [target] = task.spec.expected_files
    assert target == "bounds.py"
    action = oracle_next(task, [call("list_files")])
    assert action.name == "grep"
    grep_hit = oracle_next(task, [call("list_files"), call("grep", **action.args)])
    assert grep_hit.name == "read_file" and grep_hit.args["rel_path"] == "bounds.py"
    # Reading the imported module (not the buggy one) does not localise the bug.
    after_wrong_read = oracle_next(
        task, [call("list_files"), call("read_file", rel_path="ranges.py")]
    )
    assert after_wrong_read.name == "grep"


def test_from_a_native_state(bsearch_task: Task) -> None:
    read = action_message(
        ToolCallAction(name="read_file", args={"rel_path": "bsearch.py"}), "native", "c1"
    )
    action = oracle_next(bsearch_task, [read], protocol="native")
    assert action.name == "write_file"


def test_completions_carry_usage(bsearch_task: Task) -> None:
    policy = OraclePolicy([bsearch_task])
    req = state_after(bsearch_task, [])
    [completion] = policy.complete([req])
    assert parse_action(completion.message, "json") == ToolCallAction(
        name="list_files", args={"rel_dir": "."}
    )
    assert completion.usage.prompt_tokens > 0 and completion.error is None


# --- exploration -------------------------------------------------------------------------------


def trajectory(steps: list[StepRecord]) -> list[str]:
    return [s.raw_output.content for s in steps]


def test_explore_makes_seeded_detours(bsearch_task: Task) -> None:
    done = run_oracle([bsearch_task], explore=0.5, seeds=range(4))
    trajectories = {tuple(trajectory(steps)) for steps, _ in done}
    assert len(trajectories) > 1
    for _, line in done:
        assert line.result.success and line.result.loop_detections == 0, line.result
    again = run_oracle([bsearch_task], explore=0.5, seeds=range(4), test_policy="never")
    assert [trajectory(s) for s, _ in again] == [trajectory(s) for s, _ in done]  # deterministic


def test_explore_zero_is_the_plain_plan(bsearch_task: Task) -> None:
    # eval@teacher and the labelling of student states rely on explore 0 never changing.
    [(steps, _)] = run_oracle([bsearch_task], explore=0.0, seeds=range(3, 4), test_policy="never")
    write = json.dumps(
        {
            "type": "tool_call",
            "name": "write_file",
            "args": {"rel_path": "bsearch.py", "content": bsearch_task.fix["bsearch.py"]},
        }
    )
    assert trajectory(steps) == [
        '{"type": "tool_call", "name": "list_files", "args": {"rel_dir": "."}}',
        '{"type": "tool_call", "name": "grep", "args": {"pattern": "def binary_search\\\\b", '
        '"rel_dir": "."}}',
        '{"type": "tool_call", "name": "read_file", "args": {"rel_path": "bsearch.py", '
        '"max_chars": 1000}}',
        write,
        '{"type": "final", "summary": "Fixed the bug in bsearch.py."}',
    ]


def test_full_exploration_takes_every_detour(bsearch_task: Task) -> None:
    [(steps, line)] = run_oracle([bsearch_task], explore=1.0)
    actions = [s.action for s in steps]
    calls = [a for a in actions if isinstance(a, ToolCallAction)]
    assert actions[0] == ToolCallAction(name="list_files", args={"rel_dir": "."})
    assert ToolCallAction(name="list_files", args={"rel_dir": "tests"}) in calls
    assert any(
        c.name == "read_file" and c.args["rel_path"] == "tests/test_bsearch.py" for c in calls
    )
    assert (
        ToolCallAction(name="grep", args={"pattern": r"binary_search\(", "rel_dir": "."}) in calls
    )
    assert (
        ToolCallAction(name="grep", args={"pattern": r"binary_search\b", "rel_dir": "."}) in calls
    )
    reads = [c for c in calls if c.name == "read_file" and c.args["rel_path"] == "bsearch.py"]
    target_reads = [c.args["max_chars"] for c in reads]
    # A peek, the full read (big window), and reading the fix back after the write.
    assert len(target_reads) == 3 and target_reads[0] < 540 < target_reads[1] == 4000
    assert calls[-1].name == "read_file" and calls[-2].name == "write_file"
    assert isinstance(actions[-1], FinalAction) and len(actions) == 10
    r = line.result
    assert r.success and r.loop_detections == 0 and r.error is None
    assert not any(s.tool_error for s in steps)


# --- exploration on any layout -----------------------------------------------------------------


def write_task_dir(root: Path, files: dict[str, str], fix: dict[str, str], tests: str) -> Path:
    """A task directory (task.yaml, repo/, fix/) like the builtin suite's, in any layout."""
    for sub, contents in (("repo", files), ("fix", fix)):
        for rel, text in contents.items():
            (root / sub / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / sub / rel).write_text(text, encoding="utf-8")
    spec = {
        "id": root.name,
        "goal": "The tests fail. Fix the bug so the tests pass.",
        "difficulty": "easy",
        "category": "layout",
        "expected_files": sorted(fix),
        "test_cmd": f"python -m pytest -q -x {tests}",
    }
    (root / "task.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return root


CLAMP = '''"""Clamping numbers into a range."""


def clamp(x, low, high):
    """Return x limited to [low, high]."""
    if x < low:
        return low
    if x > high:
        return low
    return x


def clamp_all(items, low, high):
    """Clamp every item."""
    return [clamp(x, low, high) for x in items]
'''
CLAMP_FIXED = CLAMP.replace("return low\n    return x", "return high\n    return x")
CLAMP_TEST = """from clamp import clamp, clamp_all


def test_inside():
    assert clamp(5, 0, 10) == 5


def test_edges():
    assert clamp(-1, 0, 10) == 0
    assert clamp(11, 0, 10) == 10
    assert clamp_all([-5, 5, 50], 0, 10) == [0, 5, 10]
"""


def layout_task(layout: str, tmp_path: Path) -> Task:
    """One task per layout: QuixBugs', the builtin suite's, and a nested package whose tests
    live in a directory named nothing like tests/."""
    if layout == "quixbugs":
        gcd, _ = load_quixbugs(write_quixbugs(tmp_path / "QuixBugs"))
        return gcd
    if layout == "builtin":
        files = {"clamp.py": CLAMP, "tests/test_clamp.py": CLAMP_TEST}
        fix = {"clamp.py": CLAMP_FIXED}
        return load_task_dir(write_task_dir(tmp_path / "t_clamp", files, fix, "tests"))
    files = {
        "src/mathlib/__init__.py": "",
        "src/mathlib/clamp.py": CLAMP,
        "src/conftest.py": "",  # puts src/ on sys.path
        "src/checks/test_bounds.py": CLAMP_TEST.replace("from clamp", "from mathlib.clamp"),
        "README.md": "# mathlib\n",
    }
    fix = {"src/mathlib/clamp.py": CLAMP_FIXED}
    return load_task_dir(write_task_dir(tmp_path / "t_nested", files, fix, "src/checks"))


@pytest.mark.parametrize("layout", ["quixbugs", "builtin", "nested"])
def test_explore_detours_on_any_layout(layout: str, tmp_path: Path) -> None:
    task = layout_task(layout, tmp_path)
    done = run_oracle([task], explore=0.3, seeds=range(8))
    files = set(workspace_files(task))
    dirs = {rel.rsplit("/", 1)[0] for rel in files if "/" in rel} | {"."}
    reads: set[str] = set()
    for steps, line in done:
        r = line.result
        assert r.success and r.error is None, (r.run_id, r.test_output)
        assert r.loop_detections == 0 and r.parse_errors == 0
        assert not any(s.tool_error for s in steps)
        assert r.files_touched == task.spec.expected_files
        for a in (s.action for s in steps):  # every detour names what the workspace holds
            if isinstance(a, ToolCallAction) and a.name == "read_file":
                assert a.args["rel_path"] in files
                reads.add(a.args["rel_path"])
            elif isinstance(a, ToolCallAction) and a.name in {"list_files", "grep"}:
                assert a.args["rel_dir"] in dirs
    counts = [line.result.steps for _, line in done]
    assert len(set(counts)) > 1 and max(counts) > 5 and max(counts) <= MAX_PLAN_STEPS
    assert len({tuple(trajectory(steps)) for steps, _ in done}) >= 6
    # Some run reads the test module, wherever it lives.
    assert any(rel.rsplit("/", 1)[-1].startswith("test_") for rel in reads)


def test_explore_survives_a_trimmed_context(bsearch_task: Task) -> None:
    # Old turns dropped from the context must not make the oracle repeat a grep or wander.
    done = run_oracle([bsearch_task], explore=1.0, seeds=range(3), max_context_chars=1200)
    for steps, line in done:
        assert any(sum(m.role == "assistant" for m in s.messages) < s.step for s in steps)
        assert line.result.success and line.result.loop_detections == 0, line.result
        rng = random.Random(f"{line.seed}:{line.result.run_id}")
        assert [s.action for s in steps] == explore_plan(bsearch_task, rng, 1.0)


def test_off_the_plan_it_takes_the_plain_action(bsearch_task: Task) -> None:
    policy = OraclePolicy([bsearch_task], explore=1.0)
    state = state_after(bsearch_task, [call("read_file", rel_path="bsearch.py")])
    assert policy.next_action(state) == ToolCallAction(
        name="write_file",
        args={"rel_path": "bsearch.py", "content": bsearch_task.fix["bsearch.py"]},
    )


@pytest.mark.parametrize("explore", [0.3, 1.0])
def test_every_builtin_plan_fits_and_never_loops(builtin_tasks: list[Task], explore: float) -> None:
    for t in builtin_tasks:
        files = set(workspace_files(t))
        for seed in range(4):
            plan = explore_plan(t, random.Random(f"{seed}:{t.id}"), explore)
            detector = LoopDetector()
            calls = [a for a in plan if isinstance(a, ToolCallAction)]
            assert all(detector.check(c) == [] for c in calls), (t.id, plan)
            assert len(plan) <= MAX_PLAN_STEPS and isinstance(plan[-1], FinalAction)
            writes = {
                c.args["rel_path"]: c.args["content"] for c in calls if c.name == "write_file"
            }
            assert writes == t.fix
            assert all(c.args["rel_path"] in files for c in calls if c.name == "read_file")


# --- errors and helpers ------------------------------------------------------------------------


def test_a_task_without_fix_is_an_oracle_error(bsearch_task: Task) -> None:
    no_fix = replace(bsearch_task, fix=None)
    policy = OraclePolicy([no_fix])
    with pytest.raises(
        OracleError, match="'a_binary_search' has no reference fix; the oracle needs one"
    ):
        policy.next_action(state_after(bsearch_task, []))
    with pytest.raises(OracleError, match="does not know task 'other'"):
        policy.next_action(PolicyRequest(task_id="other", run_id="r", messages=[]))


def test_make_policy_builds_the_oracle(bsearch_task: Task) -> None:
    policy = make_policy(OracleConfig(explore=0.3), [bsearch_task], "json")
    assert isinstance(policy, OraclePolicy) and policy.name == "oracle" and policy.explore == 0.3
    with pytest.raises(ValueError):
        OracleConfig(explore=1.5)
    with pytest.raises(ValueError):
        OracleConfig(surprise=True)


@pytest.mark.parametrize(
    ("original", "fixed", "pattern"),
    [
        ("def f(x):\n    return x - 1\n", "def f(x):\n    return x + 1\n", r"def f\b"),
        ("class Box:\n    size = 1\n", "class Box:\n    size = 2\n", r"class Box\b"),
        ("LIMIT = 10\n", "LIMIT = 11\n", "LIMIT"),
        (
            "def outer():\n    pass\n\n\nasync def inner(y):\n    return y\n",
            "def outer():\n    pass\n\n\nasync def inner(y):\n    return -y\n",
            r"def inner\b",
        ),
    ],
)
def test_localisation_pattern(original: str, fixed: str, pattern: str) -> None:
    assert localisation_pattern(original, fixed) == pattern


def test_every_builtin_localisation_pattern_hits_the_file(builtin_tasks: list[Task]) -> None:
    for t in builtin_tasks:
        for rel, fixed in t.fix.items():
            original = t.original_text(rel)
            assert re.search(localisation_pattern(original, fixed), original, re.M), t.id
