"""ConversationState: a conversation replayed into what its state shows."""

from __future__ import annotations

from repo_agent.records import Message, ToolCallAction
from repo_agent.runtime.config import LoopLimits, ToolProtocol
from repo_agent.runtime.conversation import ConversationState
from repo_agent.runtime.protocol import action_message, observation_messages


def turn(
    name: str, observation: str, protocol: ToolProtocol = "json", **args: object
) -> list[Message]:
    action = ToolCallAction(name=name, args=args)
    return [
        action_message(action, protocol, call_id="c"),
        *observation_messages(protocol, name, observation, "c"),
    ]


GOAL = [Message(role="system", content="s"), Message(role="user", content="Task: fix")]


def test_replay_collects_what_each_call_showed() -> None:
    messages = [
        *GOAL,
        *turn("list_files", "a.py\ntests/test_a.py\n(2 files)", rel_dir="./"),
        *turn("grep", "a.py:3: def f():", pattern="def f"),
        *turn("read_file", "x" * 50 + "\n... [truncated: 9 more chars]", rel_path="./a.py"),
        *turn("read_file", "def f():\n    pass\n", rel_path="tests/test_a.py"),
        *turn("write_file", "wrote a.py (6 bytes)", rel_path="a.py", content="one\n"),
        *turn("write_file", "wrote a.py (6 bytes)", rel_path=" a.py", content="two\n"),
    ]
    st = ConversationState.replay(messages, "json")
    assert st.listed_dirs == {"."}
    assert st.listed_paths == {"a.py", "tests/test_a.py"}  # not the "(2 files)" note
    assert st.greps == [("def f", "a.py:3: def f():")] and st.grep_hit_paths == {"a.py"}
    assert st.read_sizes == {"a.py": 80, "tests/test_a.py": 18}
    assert st.full_reads == {"tests/test_a.py"}  # the read of a.py was cut
    assert st.last_write == {"a.py": "two\n"} and st.written == {"a.py"}
    assert st.seen_paths == {"a.py", "tests/test_a.py"}
    assert st.detector.previous is not None and st.detector.previous.name == "write_file"


def test_failed_calls_count_only_for_loops() -> None:
    messages = [
        *GOAL,
        *turn("read_file", "error: no such file: 'b.py'", rel_path="b.py"),
        *turn("list_files", "error: no such directory: 'x'", rel_dir="x"),
    ]
    st = ConversationState.replay(messages, "json", LoopLimits(small_read_chars=300))
    assert st.read_sizes == {} and st.listed_dirs == set() and st.seen_paths == set()
    assert st.detector.read_paths == {"b.py"} and st.detector.small_read_chars == 300


def test_native_replay_matches_json() -> None:
    def state(protocol: ToolProtocol) -> ConversationState:
        return ConversationState.replay(
            [*GOAL, *turn("grep", "m.py:1: x = 1", protocol, pattern="x")], protocol
        )

    json_st, native_st = state("json"), state("native")
    assert native_st.greps == json_st.greps == [("x", "m.py:1: x = 1")]
