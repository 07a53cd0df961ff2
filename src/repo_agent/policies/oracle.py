"""The offline teacher: a state-conditioned expert that knows each task's reference fix."""

from __future__ import annotations

import difflib
import posixpath
import random
import re
from pathlib import PurePosixPath

from repo_agent.records import Action, Completion, FinalAction, ToolCallAction, Usage
from repo_agent.runtime.config import ToolProtocol
from repo_agent.runtime.conversation import ConversationState
from repo_agent.runtime.loops import LoopDetector
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.protocol import action_message, executed_calls, parse_action
from repo_agent.runtime.task import Task, is_test_file
from repo_agent.runtime.tools import DEFAULT_READ_CHARS
from repo_agent.runtime.workspace import is_ignored, is_secret

_DEF = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)")
_IDENT = re.compile(r"[A-Za-z_]\w{2,}")
_TEXT_SUFFIXES = frozenset(
    {".py", ".md", ".rst", ".txt", ".json", ".cfg", ".toml", ".ini", ".yaml"}
)
_DEF_PATTERN = re.compile(r"^(?:def|class) (\w+)\\b$")  # a localisation_pattern naming a def
MAX_LISTED = 200  # list_files shows this many entries (ToolLimits.max_list_entries)
MAX_PLAN_STEPS = 11  # an exploring run stays under the default step limit (agent.max_steps 12)


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


class OraclePolicy:
    """Returns the best next action from any conversation state (its own or a student's).

    Plan: list files → grep for the buggy function → read each file to fix in full → write the
    fix → final. `explore` > 0 makes each run follow its own seeded `explore_plan` (detours into
    the workspace's files) while the state matches it; any other state gets the plain action.
    """

    trusted = True  # the code it writes is ours: may run tests unsandboxed (auto)

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
        self._plans: dict[tuple[str, int, str], list[Action]] = {}

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
        if self.explore > 0:
            plan = self.plan(task, req.seed, req.run_id)
            if on_plan(req, plan, self.protocol):
                return plan[req.step]
        return best_action(task, ConversationState.replay(req.messages, self.protocol))

    def plan(self, task: Task, seed: int, run_id: str) -> list[Action]:
        """The run's seeded exploring plan (memoised: it reads the task's files)."""
        key = (task.id, seed, run_id)
        if key not in self._plans:
            if len(self._plans) >= 4096:
                self._plans.clear()
            rng = random.Random(f"{seed}:{run_id}")
            self._plans[key] = explore_plan(task, rng, self.explore)
        return self._plans[key]


def best_action(task: Task, st: ConversationState) -> Action:
    """The plain (explore 0) next action on a state: restore, read, write, localise, list."""
    assert task.fix
    targets = sorted(task.fix)
    for path, content in sorted(st.last_write.items()):
        if path in task.fix:
            continue
        original = task.original_text(path)
        if original is not None and content != original:
            return ToolCallAction(name="write_file", args={"rel_path": path, "content": original})
    pending = [p for p in targets if st.last_write.get(p) != task.fix[p]]
    if not pending:
        return FinalAction(summary=f"Fixed the bug in {', '.join(targets)}.")
    first = pending[0]
    if first in st.full_reads:
        return ToolCallAction(
            name="write_file", args={"rel_path": first, "content": task.fix[first]}
        )
    localised = any(any(p in obs for p in targets) for _, obs in st.greps) or bool(
        st.read_sizes.keys() & set(targets)
    )
    if localised:
        return _read(first, _round_up(len(task.original_text(first) or "") + 100, 500))
    if not st.listed_dirs:
        return ToolCallAction(name="list_files", args={"rel_dir": "."})
    pattern = localisation_pattern(task.original_text(first) or "", task.fix[first])
    if any(p == pattern for p, _ in st.greps):
        # The grep ran but did not localise (e.g. a wrong dir); read the file directly.
        return _read(first, DEFAULT_READ_CHARS)
    return ToolCallAction(name="grep", args={"pattern": pattern, "rel_dir": "."})


def on_plan(req: PolicyRequest, plan: list[Action], protocol: ToolProtocol) -> bool:
    """Whether the visible turns of `req` are the plan's steps before `req.step`, each executed
    without error (older turns may have been dropped to fit the context)."""
    turns = [m for m in req.messages if m.role == "assistant"]
    start = req.step - len(turns)
    if start < 0 or req.step >= len(plan):
        return False
    if [parse_action(m, protocol) for m in turns] != plan[start : req.step]:
        return False
    calls = executed_calls(req.messages, protocol)
    expected = sum(isinstance(a, ToolCallAction) for a in plan[start : req.step])
    return len(calls) == expected and not any(obs.startswith("error:") for _, obs in calls)


# --- exploration ----------------------------------------------------------------------------


def workspace_files(task: Task) -> list[str]:
    """The files a `list_files` of the workspace root shows (the task's files and its source
    tree, minus VCS, virtualenv and build dirs and `.env` files), sorted, at most MAX_LISTED."""
    files = set(task.files)
    if task.source_root is not None:
        root = task.source_root
        files |= {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    shown = sorted(
        f
        for f in files
        if not any(is_ignored(d) for d in f.split("/")[:-1]) and not is_secret(f.split("/")[-1])
    )
    return shown[:MAX_LISTED]


def _text(task: Task, rel: str) -> str | None:
    if PurePosixPath(rel).suffix not in _TEXT_SUFFIXES:
        return None
    try:
        return task.original_text(rel)
    except (OSError, UnicodeError):
        return None


def _read(rel: str, max_chars: int) -> ToolCallAction:
    return ToolCallAction(name="read_file", args={"rel_path": rel, "max_chars": max_chars})


def _list(rel_dir: str) -> ToolCallAction:
    return ToolCallAction(name="list_files", args={"rel_dir": rel_dir})


def _grep(pattern: str, rel_dir: str) -> ToolCallAction:
    return ToolCallAction(name="grep", args={"pattern": pattern, "rel_dir": rel_dir})


def explore_plan(task: Task, rng: random.Random, explore: float) -> list[Action]:
    """A whole run that takes each detour with chance `explore` and still ends with the fix.

    Detours use only what the workspace holds: list a directory of it, read the target's test
    module (wherever it lives) or another text file, grep for the buggy function's call sites,
    peek at the target before reading it in full, read the fix back before finishing; the main
    grep may drop its `def ` or search only the target's directory, the full read may use a big
    window. Every read, listing and grep names an existing file or directory (no tool errors)
    and no call trips the loop detector. The draws come in a fixed order, so a seeded `rng`
    gives the same plan on every call.
    """
    assert task.fix
    targets = sorted(task.fix)
    first = targets[0]
    original = task.original_text(first) or ""
    pattern = localisation_pattern(original, task.fix[first])
    defined = _DEF_PATTERN.match(pattern)
    name = defined.group(1) if defined else ""
    files = workspace_files(task)
    tests = [f for f in files if is_test_file(f) and f not in task.fix]
    stems = [PurePosixPath(t).stem for t in targets] + ([name] if name else [])
    related = [t for t in tests if any(s in (_text(task, t) or "") or s in t for s in stems)]
    related = related or tests
    others = [f for f in files if f not in task.fix and f not in tests and _text(task, f)]
    dirs = sorted({d for f in files for d in _parents(f)})

    def take() -> bool:
        return rng.random() < explore

    pre: list[Action] = []
    post: list[Action] = []
    # One draw per detour, then its choices, always in this order (the plan is a pure
    # function of the seed).
    if take() and dirs:
        pre.append(_list(rng.choice(dirs)))
    if take() and related:
        where = pre if rng.random() < 0.5 else post
        where.append(_read(rng.choice(related), rng.choice((2000, DEFAULT_READ_CHARS))))
    if take() and others:
        where = pre if rng.random() < 0.5 else post
        where.append(_read(rng.choice(others), rng.choice((1000, 2000))))
    if take() and name:
        where = pre if rng.random() < 0.5 else post
        where.append(_grep(name + r"\(", "."))
    if take():
        windows = [w for w in (300, 400, 600) if w < len(original) - 50]
        if windows:
            post.append(_read(first, rng.choice(windows)))
    verify = take()
    bare = take()
    scoped = take()
    big_read = take()
    rng.shuffle(pre)
    rng.shuffle(post)

    main = _grep(
        pattern.removeprefix("def ").removeprefix("class ") if bare else pattern,
        (posixpath.dirname(first) or ".") if scoped else ".",
    )
    fix_steps: list[Action] = []
    for rel in targets:
        size = _round_up(len(task.original_text(rel) or "") + 100, 500)
        fix_steps += [
            _read(rel, max(size, DEFAULT_READ_CHARS) if big_read else size),
            _write(rel, task.fix[rel]),
        ]
    check = [_read(first, _round_up(len(task.fix[first]) + 100, 500))] if verify else []
    final = FinalAction(summary=f"Fixed the bug in {', '.join(targets)}.")
    return _fitted(
        [
            (_list("."), False),
            *((a, True) for a in pre),
            (main, False),
            *((a, True) for a in post),
            *((a, False) for a in fix_steps),
            *((a, True) for a in check),
            (final, False),
        ]
    )


def _fitted(steps: list[tuple[Action, bool]]) -> list[Action]:
    """Drop detours (flagged True), the latest first, until no call trips the loop detector and
    the plan has at most MAX_PLAN_STEPS steps (the plain steps alone never loop)."""
    steps = list(steps)
    while True:
        plan = [a for a, _ in steps]
        bad = _first_loop(plan)
        if bad is None and len(plan) <= MAX_PLAN_STEPS:
            return plan
        end = len(steps) if bad is None else bad + 1
        detours = [i for i in range(end) if steps[i][1]]
        if not detours:
            return plan
        del steps[detours[-1]]


def _first_loop(plan: list[Action]) -> int | None:
    detector = LoopDetector()
    return next(
        (i for i, a in enumerate(plan) if isinstance(a, ToolCallAction) and detector.check(a)),
        None,
    )


def _write(rel: str, content: str) -> ToolCallAction:
    return ToolCallAction(name="write_file", args={"rel_path": rel, "content": content})


def _parents(rel: str) -> list[str]:
    parts = rel.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _round_up(n: int, step: int) -> int:
    return ((n + step - 1) // step) * step
