"""The offline teacher: a state-conditioned expert that knows each task's reference fix."""

from __future__ import annotations

import difflib
import random
import re
from dataclasses import dataclass

from repo_agent.records import Action, Completion, FinalAction, ToolCallAction, Usage
from repo_agent.runtime.config import ToolProtocol
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.protocol import action_message, executed_calls
from repo_agent.runtime.task import Task
from repo_agent.runtime.tools import DEFAULT_READ_CHARS, norm_rel_path

_DEF = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)")
_IDENT = re.compile(r"[A-Za-z_]\w{2,}")


class OracleError(Exception):
    """The oracle cannot act on this task (no reference fix)."""


def localisation_pattern(original: str, fixed: str) -> str:
    """A grep pattern that finds the buggy spot: the def enclosing the first changed line.

    >>> localisation_pattern("def f(x):\\n    return x - 1\\n", "def f(x):\\n    return x + 1\\n")
    'def f\\\\b'
    """
    old = original.splitlines()
    matcher = difflib.SequenceMatcher(a=old, b=fixed.splitlines(), autojunk=False)
    first = next((op for op in matcher.get_opcodes() if op[0] != "equal"), None)
    line = first[1] if first else 0
    for i in range(min(line, len(old) - 1), -1, -1):
        m = _DEF.match(old[i])
        if m:
            return rf"def {m.group(1)}\b" if "def" in old[i] else rf"class {m.group(1)}\b"
    changed = old[line] if line < len(old) else ""
    ident = _IDENT.search(changed)
    return re.escape(ident.group(0)) if ident else re.escape(changed.strip()[:30] or "def ")


@dataclass
class _State:
    listed: set[str]
    greps: list[tuple[str, str]]  # (pattern, observation)
    full_reads: set[str]
    any_reads: set[str]
    last_write: dict[str, str]


def _state(req: PolicyRequest, protocol: ToolProtocol) -> _State:
    st = _State(set(), [], set(), set(), {})
    for action, obs in executed_calls(req.messages, protocol):
        if obs.startswith("error:"):
            continue
        a = action.args
        if action.name == "list_files":
            st.listed.add(norm_rel_path(a.get("rel_dir", ".")))
        elif action.name == "grep":
            st.greps.append((a["pattern"], obs))
        elif action.name == "read_file":
            st.any_reads.add(norm_rel_path(a["rel_path"]))
            if "[truncated:" not in obs:
                st.full_reads.add(norm_rel_path(a["rel_path"]))
        elif action.name == "write_file":
            st.last_write[norm_rel_path(a["rel_path"])] = a["content"]
    return st


class OraclePolicy:
    """Returns the best next action from any conversation state (its own or a student's).

    Plan: list files → grep for the buggy function → read each file to fix in full → write the
    fix → final. `explore` > 0 adds seeded detours (listing tests/, reading the test file first,
    other grep patterns and read sizes) so repeated rollouts differ.
    """

    def __init__(
        self,
        tasks: list[Task],
        protocol: ToolProtocol = "json",
        explore: float = 0.0,
        name: str = "oracle",
    ) -> None:
        self.tasks = {t.id: t for t in tasks}
        self.protocol = protocol
        self.explore = explore
        self.name = name

    def complete(self, requests: list[PolicyRequest]) -> list[Completion]:
        out = []
        for req in requests:
            action = self.next_action(req)
            msg = action_message(action, self.protocol, call_id=f"call_{req.step}")
            prompt_chars = sum(len(m.content or "") for m in req.messages)
            usage = Usage(
                prompt_tokens=prompt_chars // 4, completion_tokens=len(msg.content or "") // 4
            )
            out.append(Completion(message=msg, usage=usage))
        return out

    def next_action(self, req: PolicyRequest) -> Action:
        task = self.tasks.get(req.task_id)
        if task is None:
            raise OracleError(f"the oracle does not know task {req.task_id!r}")
        if not task.fix:
            raise OracleError(
                f"task {req.task_id!r} has no reference fix; the oracle needs one "
                "(use an API teacher such as policy 'openai' for this suite)"
            )
        rng = random.Random(f"{req.seed}:{req.run_id}")
        detours = {
            "list_tests": rng.random() < self.explore,
            "read_test": rng.random() < self.explore,
            "bare_pattern": rng.random() < self.explore,
            "big_read": rng.random() < self.explore,
        }
        st = _state(req, self.protocol)
        targets = sorted(task.fix)

        for path, content in sorted(st.last_write.items()):
            if path in task.fix:
                continue
            original = task.original_text(path)
            if original is not None and content != original:
                return ToolCallAction(
                    name="write_file", args={"rel_path": path, "content": original}
                )
        pending = [p for p in targets if st.last_write.get(p) != task.fix[p]]
        if not pending:
            return FinalAction(summary=f"Fixed the bug in {', '.join(targets)}.")
        first = pending[0]
        if first in st.full_reads:
            return ToolCallAction(
                name="write_file", args={"rel_path": first, "content": task.fix[first]}
            )
        localised = any(any(p in obs for p in targets) for _, obs in st.greps) or bool(
            st.any_reads & set(targets)
        )
        if localised:
            original = task.original_text(first) or ""
            size = (
                DEFAULT_READ_CHARS if detours["big_read"] else _round_up(len(original) + 100, 500)
            )
            return ToolCallAction(name="read_file", args={"rel_path": first, "max_chars": size})
        if not st.listed:
            return ToolCallAction(name="list_files", args={"rel_dir": "."})
        tests = sorted(p for p in task.files if p.startswith("tests/"))
        if detours["list_tests"] and tests and "tests" not in st.listed:
            return ToolCallAction(name="list_files", args={"rel_dir": "tests"})
        if detours["read_test"] and tests and tests[0] not in st.any_reads:
            return ToolCallAction(name="read_file", args={"rel_path": tests[0], "max_chars": 2000})
        pattern = localisation_pattern(task.original_text(first) or "", task.fix[first])
        if detours["bare_pattern"]:
            pattern = pattern.removeprefix("def ").removeprefix("class ")
        if any(p == pattern for p, _ in st.greps):
            # The grep ran but did not localise (e.g. a wrong dir); read the file directly.
            return ToolCallAction(
                name="read_file", args={"rel_path": first, "max_chars": DEFAULT_READ_CHARS}
            )
        return ToolCallAction(name="grep", args={"pattern": pattern, "rel_dir": "."})


def _round_up(n: int, step: int) -> int:
    return ((n + step - 1) // step) * step
