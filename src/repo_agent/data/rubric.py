"""The operational rubric: small named scoring functions of (state, candidate action).

A state is the conversation the policy saw; a candidate is one assistant message. No judge
model: every score comes from the protocol, the loop detector and what the state shows.
"""

from __future__ import annotations

from repo_agent.data.config import RubricParams
from repo_agent.records import Action, FinalAction, Message, ToolCallAction
from repo_agent.runtime.config import LOOP_LIMITS, LoopLimits, ToolProtocol
from repo_agent.runtime.conversation import ConversationState
from repo_agent.runtime.protocol import ParseError, parse_action
from repo_agent.runtime.tools import DEFAULT_READ_CHARS, norm_rel_path

StateView = ConversationState  # what the scorers read: a replayed state


def view_state(
    messages: list[Message], protocol: ToolProtocol, limits: LoopLimits = LOOP_LIMITS
) -> StateView:
    """Replay the executed calls of a state."""
    return ConversationState.replay(messages, protocol, limits)


def hard_constraints(parsed: Action | ParseError, r: RubricParams) -> float:
    """Broken JSON, wrong shape, unknown tool or bad args: -invalid_penalty."""
    return -r.invalid_penalty if isinstance(parsed, ParseError) else 0.0


def loop_score(view: StateView, action: Action, r: RubricParams) -> float:
    """-loop_penalty for each loop flag the action would trigger."""
    if not isinstance(action, ToolCallAction):
        return 0.0
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
    limits: LoopLimits = LOOP_LIMITS,
) -> float:
    """Total rubric score of `candidate` as the next message after `messages`.

    `limits` are the agent's (`agent.small_read_chars`, `agent.loop_window`): the rubric judges
    loops exactly as the agent loop would."""
    parsed = parse_action(candidate, protocol)
    if isinstance(parsed, ParseError):
        return hard_constraints(parsed, r)
    view = view_state(messages, protocol, limits)
    return sum(f(view, parsed, r) for f in SCORERS)
