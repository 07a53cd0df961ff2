"""Loop detection over an agent's tool calls."""

from __future__ import annotations

import posixpath
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from repo_agent.records import ToolCallAction
from repo_agent.runtime.config import LOOP_WINDOW, SMALL_READ_CHARS, LoopLimits
from repo_agent.runtime.protocol import REFLECTION_PREFIX

EXACT_REPEAT = "exact_repeat"
TINY_REREAD = "tiny_reread"
REPEAT_GREP = "repeat_grep"
ALTERNATION = "alternation"
PATH_ARGS = ("rel_path", "rel_dir")
DIR_TOOLS = ("list_files", "grep")  # rel_dir defaults to "."

CallKey = tuple[str, str]


def loop_path(path: Any) -> Any:
    """A path as the loop detector compares it: "./a.py", "a.py ", "././a.py" and "b/../a.py"
    are one file (only the comparison; what the tool is given is unchanged).

    >>> loop_path(" ././pkg//a.py "), loop_path("pkg/../pkg/a.py"), loop_path("")
    ('pkg/a.py', 'pkg/a.py', '.')
    """
    return posixpath.normpath(path.strip() or ".") if isinstance(path, str) else path


def call_key(action: ToolCallAction) -> CallKey:
    """Name and args of a call, ignoring the free-text `thought`, with paths normalised (an
    omitted `rel_dir` is ".").

    >>> call_key(ToolCallAction(name="list_files", args={"rel_dir": "./", "thought": "hm"}))
    ('list_files', "[('rel_dir', '.')]")
    """
    args = {k: v for k, v in action.args.items() if k != "thought"}
    if action.name in DIR_TOOLS:
        args.setdefault("rel_dir", ".")
    args = {k: loop_path(v) if k in PATH_ARGS else v for k, v in args.items()}
    return action.name, repr(sorted(args.items()))


def cycle_period(keys: list[CallKey], max_period: int) -> int | None:
    """The shortest period p (2 <= p <= max_period) such that the last 2p calls are one sequence
    of p calls, not all the same, done twice; None if there is none.

    >>> cycle_period(list("ABAB"), 4), cycle_period(list("ABCABC"), 3)
    (2, 3)
    >>> cycle_period(list("ABCABC"), 2), cycle_period(list("AAAA"), 4)
    (None, None)
    """
    for p in range(2, max_period + 1):
        if len(keys) < 2 * p:
            break
        last = keys[-p:]
        if last == keys[-2 * p : -p] and len(set(last)) > 1:
            return p
    return None


@dataclass
class LoopDetector:
    """Flags exact repeats, tiny re-reads of a file already read, repeated greps, and cycles
    (A,B,A,B; or A,B,C,A,B,C and longer, up to half of the last `window` calls).

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
    window: int = LOOP_WINDOW
    recent: deque[CallKey] = field(default_factory=deque)

    @classmethod
    def of(cls, limits: LoopLimits) -> LoopDetector:
        """A fresh detector with these limits."""
        return cls(small_read_chars=limits.small_read_chars, window=limits.window)

    def fork(self) -> LoopDetector:
        """An independent copy (to probe a candidate call without recording it)."""
        return LoopDetector(
            self.small_read_chars,
            self.previous,
            set(self.read_paths),
            set(self.greps),
            self.window,
            deque(self.recent),
        )

    def check(self, action: ToolCallAction) -> list[str]:
        """Return the loop flags of `action` and remember it."""
        flags: list[str] = []
        key = call_key(action)
        if self.previous is not None and call_key(self.previous) == key:
            flags.append(EXACT_REPEAT)
        if action.name == "read_file":
            path = loop_path(action.args.get("rel_path", ""))
            max_chars = action.args.get("max_chars")
            if (
                path in self.read_paths
                and isinstance(max_chars, int)
                and max_chars < self.small_read_chars
            ):
                flags.append(TINY_REREAD)
            self.read_paths.add(path)
        if action.name == "grep":
            key_grep = (action.args.get("pattern", ""), loop_path(action.args.get("rel_dir", ".")))
            if key_grep in self.greps and EXACT_REPEAT not in flags:
                flags.append(REPEAT_GREP)
            self.greps.add(key_grep)
        self.recent.append(key)
        while len(self.recent) > self.window:
            self.recent.popleft()
        if cycle_period(list(self.recent), self.window // 2) is not None:
            flags.append(ALTERNATION)
        self.previous = action
        return flags


def reflection_prompt(flags: list[str], action: ToolCallAction) -> str:
    reasons = {
        EXACT_REPEAT: "you repeated your previous call exactly",
        TINY_REREAD: "you re-read a file you already read, with a tiny max_chars",
        REPEAT_GREP: "you repeated a grep you already ran",
        ALTERNATION: "you are going back and forth between the same calls",
    }
    why = "; ".join(reasons[f] for f in flags)
    return (
        f"{REFLECTION_PREFIX} Loop detected ({', '.join(flags)}): {why} ({action.name}). "
        "Its result would not change. Use what you already learned and take a different step: "
        "read the file you localised, write the fix, or finish."
    )
