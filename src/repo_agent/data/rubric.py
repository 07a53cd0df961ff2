"""The operational rubric: small named scoring functions of (state, candidate action).

A state is the conversation the policy saw; a candidate is one assistant message. No judge
model: every score comes from the protocol, the loop detector and what the state shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from repo_agent.data.config import RubricParams
from repo_agent.records import Action, FinalAction, Message, ToolCallAction
from repo_agent.runtime.config import SMALL_READ_CHARS, ToolProtocol
from repo_agent.runtime.loops import LoopDetector
from repo_agent.runtime.protocol import ParseError, executed_calls, parse_action
from repo_agent.runtime.tools import DEFAULT_READ_CHARS, norm_rel_path


@dataclass(frozen=True)
class StateView:
    """What a state shows: loop history, files read (with size), grep hits, writes, and every
    path an observation named (listed, hit, read or written)."""

    detector: LoopDetector
    read_sizes: dict[str, int]
    grep_hit_paths: set[str]
    written: set[str]
    seen_paths: set[str]


def view_state(
    messages: list[Message], protocol: ToolProtocol, small_read_chars: int = SMALL_READ_CHARS
) -> StateView:
    """Replay the executed calls of a state."""
    detector = LoopDetector(small_read_chars=small_read_chars)
    read_sizes: dict[str, int] = {}
    hits: set[str] = set()
    written: set[str] = set()
    listed: set[str] = set()
    for action, obs in executed_calls(messages, protocol):
        detector.check(action)
        if obs.startswith("error:"):
            continue
        if action.name == "list_files":
            listed |= {line.strip() for line in obs.splitlines() if line and line[0] not in ".("}
        elif action.name == "read_file":
            path = norm_rel_path(action.args["rel_path"])
            read_sizes[path] = max(read_sizes.get(path, 0), len(obs))
        elif action.name == "grep":
            hits |= {line.split(":", 1)[0] for line in obs.splitlines() if ":" in line}
        elif action.name == "write_file":
            written.add(norm_rel_path(action.args["rel_path"]))
    return StateView(detector, read_sizes, hits, written, listed | hits | set(read_sizes) | written)


def hard_constraints(parsed: Action | ParseError, r: RubricParams) -> float:
    """Broken JSON, wrong shape, unknown tool or bad args: -invalid_penalty."""
    return -r.invalid_penalty if isinstance(parsed, ParseError) else 0.0


def loop_score(view: StateView, action: Action, r: RubricParams) -> float:
    """-loop_penalty for each loop flag the action would trigger."""
    if not isinstance(action, ToolCallAction):
        return 0.0
    # The detector's default window (agent.loop_window's default) also finds alternations.
    return -r.loop_penalty * len(view.detector.fork().check(action))


def unseen_path(view: StateView, action: Action, r: RubricParams) -> float:
    """Reading a path no observation named: a file name guessed or remembered, not read off."""
    is_read = isinstance(action, ToolCallAction) and action.name == "read_file"
    if is_read and norm_rel_path(action.args["rel_path"]) not in view.seen_paths:
        return -r.unseen_path_penalty
    return 0.0


def premature_final(view: StateView, action: Action, r: RubricParams) -> float:
    """A final before any file was written gives up on the task."""
    return (
        -r.premature_final_penalty if isinstance(action, FinalAction) and not view.written else 0.0
    )


def blind_write(view: StateView, action: Action, r: RubricParams) -> float:
    """Writing an existing-looking file that was never read."""
    is_write = isinstance(action, ToolCallAction) and action.name == "write_file"
    if is_write and norm_rel_path(action.args["rel_path"]) not in view.read_sizes:
        return -r.blind_write_penalty
    return 0.0


def read_after_grep(view: StateView, action: Action, r: RubricParams) -> float:
    """Reading, with enough context, a file a grep hit pointed at."""
    if isinstance(action, ToolCallAction) and action.name == "read_file":
        path = norm_rel_path(action.args["rel_path"])
        size = action.args.get("max_chars", DEFAULT_READ_CHARS)
        if path in view.grep_hit_paths and size >= r.min_context_chars:
            return r.read_after_grep_reward
    return 0.0


def localised_write(view: StateView, action: Action, r: RubricParams) -> float:
    """Writing a file once the fault is localised: a grep hit it and it was read."""
    if isinstance(action, ToolCallAction) and action.name == "write_file":
        path = norm_rel_path(action.args["rel_path"])
        if path in view.grep_hit_paths and path in view.read_sizes:
            return r.localised_write_reward
    return 0.0


SCORERS = (
    loop_score,
    unseen_path,
    premature_final,
    blind_write,
    read_after_grep,
    localised_write,
)


def score(
    messages: list[Message],
    candidate: Message,
    r: RubricParams,
    protocol: ToolProtocol = "json",
    small_read_chars: int = SMALL_READ_CHARS,
) -> float:
    """Total rubric score of `candidate` as the next message after `messages`.

    `small_read_chars` is the agent's loop threshold (`agent.small_read_chars`): the rubric
    judges loops exactly as the agent loop would."""
    parsed = parse_action(candidate, protocol)
    if isinstance(parsed, ParseError):
        return hard_constraints(parsed, r)
    view = view_state(messages, protocol, small_read_chars)
    return sum(f(view, parsed, r) for f in SCORERS)
