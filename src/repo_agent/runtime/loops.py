"""Loop detection over an agent's tool calls."""

from __future__ import annotations

from dataclasses import dataclass, field

from repo_agent.records import ToolCallAction
from repo_agent.runtime.config import SMALL_READ_CHARS
from repo_agent.runtime.protocol import REFLECTION_PREFIX
from repo_agent.runtime.tools import norm_rel_path

EXACT_REPEAT = "exact_repeat"
TINY_REREAD = "tiny_reread"
REPEAT_GREP = "repeat_grep"


def call_key(action: ToolCallAction) -> tuple[str, str]:
    """Name and args of a call, ignoring the free-text `thought`."""
    args = {k: v for k, v in action.args.items() if k != "thought"}
    return action.name, repr(sorted(args.items()))


@dataclass
class LoopDetector:
    """Flags exact repeats, tiny re-reads of a file already read, and repeated greps.

    >>> d = LoopDetector(small_read_chars=200)
    >>> d.check(ToolCallAction(name="grep", args={"pattern": "x"}))
    []
    >>> d.check(ToolCallAction(name="grep", args={"pattern": "x", "max_hits": 5}))
    ['repeat_grep']
    """

    small_read_chars: int = SMALL_READ_CHARS
    previous: ToolCallAction | None = None
    read_paths: set[str] = field(default_factory=set)
    greps: set[tuple[str, str]] = field(default_factory=set)

    def check(self, action: ToolCallAction) -> list[str]:
        """Return the loop flags of `action` and remember it."""
        flags: list[str] = []
        if self.previous is not None and call_key(self.previous) == call_key(action):
            flags.append(EXACT_REPEAT)
        if action.name == "read_file":
            path = norm_rel_path(action.args.get("rel_path", ""))
            max_chars = action.args.get("max_chars")
            if (
                path in self.read_paths
                and isinstance(max_chars, int)
                and max_chars < self.small_read_chars
            ):
                flags.append(TINY_REREAD)
            self.read_paths.add(path)
        if action.name == "grep":
            key = (action.args.get("pattern", ""), norm_rel_path(action.args.get("rel_dir", ".")))
            if key in self.greps and EXACT_REPEAT not in flags:
                flags.append(REPEAT_GREP)
            self.greps.add(key)
        self.previous = action
        return flags


def reflection_prompt(flags: list[str], action: ToolCallAction) -> str:
    reasons = {
        EXACT_REPEAT: "you repeated your previous call exactly",
        TINY_REREAD: "you re-read a file you already read, with a tiny max_chars",
        REPEAT_GREP: "you repeated a grep you already ran",
    }
    why = "; ".join(reasons[f] for f in flags)
    return (
        f"{REFLECTION_PREFIX} Loop detected ({', '.join(flags)}): {why} ({action.name}). "
        "Its result would not change. Use what you already learned and take a different step: "
        "read the file you localised, write the fix, or finish."
    )
