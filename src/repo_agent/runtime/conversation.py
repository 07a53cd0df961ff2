"""A conversation replayed into what its state shows: the executed tool calls, what they
listed, found, read and wrote (read by the oracle and the rubric alike)."""

from __future__ import annotations

from dataclasses import dataclass, field

from repo_agent.records import Message
from repo_agent.runtime.config import LOOP_LIMITS, LoopLimits, ToolProtocol
from repo_agent.runtime.loops import LoopDetector
from repo_agent.runtime.protocol import executed_calls
from repo_agent.runtime.tools import norm_rel_path


@dataclass(frozen=True)
class ConversationState:
    """What a state shows. Paths are normalised (`norm_rel_path`); calls that failed
    ("error: ...") count only for the loop history."""

    detector: LoopDetector  # has seen every executed call
    listed_dirs: set[str] = field(default_factory=set)  # directories a listing showed
    listed_paths: set[str] = field(default_factory=set)  # the entries those listings named
    greps: list[tuple[str, str]] = field(default_factory=list)  # (pattern, observation)
    grep_hit_paths: set[str] = field(default_factory=set)
    read_sizes: dict[str, int] = field(default_factory=dict)  # path -> longest read's length
    full_reads: set[str] = field(default_factory=set)  # read whole (the observation not cut)
    last_write: dict[str, str] = field(default_factory=dict)  # path -> what was written last

    @property
    def written(self) -> set[str]:
        return set(self.last_write)

    @property
    def seen_paths(self) -> set[str]:
        """Every path an observation named: listed, hit, read or written."""
        return self.listed_paths | self.grep_hit_paths | set(self.read_sizes) | self.written

    @classmethod
    def replay(
        cls,
        messages: list[Message],
        protocol: ToolProtocol,
        limits: LoopLimits = LOOP_LIMITS,
    ) -> ConversationState:
        """Replay the executed calls of `messages`.

        >>> from repo_agent.runtime.protocol import action_message, observation_messages
        >>> from repo_agent.records import ToolCallAction
        >>> grep = ToolCallAction(name="grep", args={"pattern": "def f"})
        >>> hits = observation_messages("json", "grep", "a.py:3: def f():", None)
        >>> msgs = [action_message(grep, "json"), *hits]
        >>> st = ConversationState.replay(msgs, "json")
        >>> st.greps, st.grep_hit_paths, st.read_sizes
        ([('def f', 'a.py:3: def f():')], {'a.py'}, {})
        """
        st = cls(LoopDetector.of(limits))
        for action, obs in executed_calls(messages, protocol):
            st.detector.check(action)
            if obs.startswith("error:"):
                continue
            args = action.args
            if action.name == "list_files":
                st.listed_dirs.add(norm_rel_path(args.get("rel_dir", ".")))
                st.listed_paths.update(
                    line.strip() for line in obs.splitlines() if line and line[0] not in ".("
                )
            elif action.name == "grep":
                st.greps.append((args["pattern"], obs))
                st.grep_hit_paths.update(
                    line.split(":", 1)[0] for line in obs.splitlines() if ":" in line
                )
            elif action.name == "read_file":
                path = norm_rel_path(args["rel_path"])
                st.read_sizes[path] = max(st.read_sizes.get(path, 0), len(obs))
                if "[truncated:" not in obs:
                    st.full_reads.add(path)
            elif action.name == "write_file":
                st.last_write[norm_rel_path(args["rel_path"])] = args["content"]
        return st
