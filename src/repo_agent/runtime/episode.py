"""One run of one task: the agent loop. An `Episode` builds a request, applies the policy's
reply (parse, run the tool or answer the error, watch for loops), and at the end judges the run
and builds its records.

Keys are masked at three boundaries: what the policy says (`policy.read_reply`), what the
agent is shown (`shown`: the goal, tool results, test output) and what is stored (the texts
of the result line, in `Episode.records`).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, replace
from itertools import takewhile
from typing import Any

from repo_agent.records import (
    Completion,
    FinalAction,
    Message,
    ResultLine,
    RunResult,
    StepRecord,
    ToolCallAction,
    Usage,
)
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.loops import LoopDetector, reflection_prompt
from repo_agent.runtime.policy import PolicyRequest, read_reply
from repo_agent.runtime.protocol import (
    ParseError,
    error_messages,
    fit_context,
    goal_message,
    observation_messages,
    system_prompt,
)
from repo_agent.runtime.task import Task
from repo_agent.runtime.testrun import TestOutcome, run_tests
from repo_agent.runtime.tools import ToolLimits, execute_tool, openai_tool_schemas, truncate
from repo_agent.runtime.workspace import Workspace
from repo_agent.secrets import scrub


@dataclass(frozen=True)
class RunSpec:
    task: Task
    run_id: str
    seed: int = 0
    role: str = "run"


def run_specs(
    tasks: list[Task], label: str, rollouts: int, seed: int, role: str | None = None
) -> list[RunSpec]:
    """`rollouts` runs per task, ids `<task>:<label>:<k>`, seeds `seed + k` (stable for resume)."""
    return [
        RunSpec(t, f"{t.id}:{label}:{k}", seed=seed + k, role=role or label)
        for t in tasks
        for k in range(rollouts)
    ]


def step_counts(steps: list[StepRecord]) -> dict[str, Any]:
    """The run result's counters, which follow from its recorded steps."""
    calls = Counter(s.action.name for s in steps if isinstance(s.action, ToolCallAction))
    loops = sum(bool(s.loop_flags) for s in steps)  # each one answered with a reflection
    return {
        "steps": len(steps),
        "tool_calls": calls.total(),
        "tool_breakdown": dict(calls),
        "reflection_count": loops,
        "loop_detections": loops,
        "parse_errors": sum(s.parse_error is not None for s in steps),
    }


def shown(text: str, max_chars: int | None = None) -> str:
    """Text the agent is shown, keys masked, then cut (a cut could leave a key's head too short
    to recognise)."""
    text = scrub(text)
    return text if max_chars is None else truncate(text, max_chars)


class Episode:
    """One run of one task: builds requests, applies completions, ends with a result."""

    def __init__(self, spec: RunSpec, config: AgentConfig, policy_name: str) -> None:
        self.spec, self.task, self.config, self.policy_name = spec, spec.task, config, policy_name
        self.ws = Workspace.create(self.task.files, self.task.source_root)
        self.messages: list[Message] = [
            Message(role="system", content=system_prompt(config.tool_protocol)),
            Message(role="user", content=goal_message(shown(self.task.spec.goal))),
        ]
        self.steps: list[StepRecord] = []
        self.detector = LoopDetector.of(config.loop_limits)
        self.started = time.monotonic()
        self.deadline = self.started + config.max_wall_s
        self.done = False
        self.error: str | None = None
        self.test_runs = 0  # not steps: a test run follows a write, or judges the run
        self.files_touched: list[str] = []
        self._tools = openai_tool_schemas() if config.tool_protocol == "native" else None

    def request(self) -> PolicyRequest:
        return PolicyRequest(
            task_id=self.task.id,
            run_id=self.spec.run_id,
            seed=self.spec.seed,
            step=len(self.steps),
            messages=fit_context(self.messages, self.config.max_context_chars),
            tools=self._tools,
        )

    def advance(self, request: PolicyRequest, completion: Completion) -> None:
        """Apply one assistant message: parse, run the tool or answer the error, record."""
        if completion.error is not None:
            self._end(f"policy error: {completion.error}")
            return
        cfg = self.config
        msg, parsed = read_reply(completion, cfg.tool_protocol)
        self.messages.append(msg)
        record = StepRecord(
            task_id=self.task.id,
            run_id=self.spec.run_id,
            policy=self.policy_name,
            step=len(self.steps),
            messages=request.messages,
            raw_output=msg,
            usage=completion.usage,
        )
        if isinstance(parsed, ParseError):
            record.parse_error, record.parse_error_detail = parsed.code.value, parsed.detail
            record.observation = parsed.message()
            self.messages += error_messages(cfg.tool_protocol, msg, record.observation)
        elif isinstance(parsed, FinalAction):
            record.action = parsed
            self.done = True
        else:
            record.action = parsed
            record.observation, record.loop_flags, record.tool_error = self._call_tool(parsed)
            call_id = msg.tool_calls[0].id if msg.tool_calls else None
            self.messages += observation_messages(
                cfg.tool_protocol, parsed.name, record.observation, call_id
            )
        self.steps.append(record)
        errors = len(list(takewhile(lambda s: s.parse_error, reversed(self.steps))))
        if self.done:
            return
        if errors >= cfg.max_consecutive_parse_errors:
            self._end(f"{errors} consecutive parse errors (last: {record.parse_error})")
        elif len(self.steps) >= cfg.max_steps:
            self._end(f"step limit reached (max_steps={cfg.max_steps})")
        elif time.monotonic() > self.deadline:
            self._end(f"wall-time limit reached (max_wall_s={cfg.max_wall_s})")

    def _call_tool(self, action: ToolCallAction) -> tuple[str, list[str], bool]:
        flags = self.detector.check(action)
        if flags:
            return shown(reflection_prompt(flags, action)), flags, False
        # The deadline bounds the call itself (a grep over a huge tree), not just the steps.
        result = execute_tool(
            self.ws, action.name, action.args, ToolLimits(), deadline=self.deadline
        )
        text = result.text
        if result.ok and action.name == "write_file":
            # Canonical form: ".//a.py" and "./a.py" are "a.py" (diffs and metrics use it).
            path = self.ws.relative(self.ws.resolve(action.args["rel_path"]))
            if path not in self.files_touched:
                self.files_touched.append(path)
            if self.config.test_policy == "after_write":
                text += self._tests_after_write()
        return shown(text, self.config.max_observation_chars), [], not result.ok

    def _tests_after_write(self) -> str:
        """The test verdict shown to the agent; the run gets only its remaining wall time."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return "\n[tests not run: wall-time limit reached]"
        outcome = self._run_tests(min(self.task.spec.timeout_s, remaining))
        tail = outcome.output[-1500:]
        if outcome.could_not_start:
            self._end(outcome.start_error())
            return f"\n[tests could not start]\n{tail}"
        return f"\n[tests {'passed' if outcome.passed else 'failed'}]\n{tail}"

    def _run_tests(self, timeout_s: float) -> TestOutcome:
        cfg = self.config
        outcome = run_tests(
            self.ws.root,
            self.task.spec.test_cmd,
            timeout_s,
            sandbox=cfg.sandbox,
            max_output_chars=cfg.max_test_output_chars,
        )
        self.test_runs += int(not outcome.could_not_start)
        return replace(outcome, output=shown(outcome.output))

    def _end(self, error: str) -> None:
        self.error = error
        self.done = True

    def judge(self) -> tuple[bool, str | None, str]:
        """Success, test output and diff of the agent's work (tests unless test_policy never)."""
        diff = self.ws.diff(self.files_touched)
        if self.config.test_policy == "never":
            return False, None, diff
        if not diff:
            return False, "(not run: the workspace is unchanged, so the tests still fail)", diff
        # The judge is not the agent's work: it gets the task's own timeout.
        outcome = self._run_tests(self.task.spec.timeout_s)
        if outcome.could_not_start:
            self.error = self.error or outcome.start_error()
        return outcome.passed, outcome.output, diff

    def records(self, success: bool, test_output: str | None, diff: str) -> ResultLine:
        """The run's result line, its texts scrubbed (the diff may hold a key from the task's
        files, the error one from the policy)."""
        last = self.steps[-1].action if self.steps else None
        result = RunResult(
            task_id=self.task.id,
            run_id=self.spec.run_id,
            success=success,
            files_touched=self.files_touched,
            error=_stored(self.error),
            duration_s=round(time.monotonic() - self.started, 3),
            final_summary=_stored(last.summary if isinstance(last, FinalAction) else None),
            test_output=_stored(test_output),
            metadata=self.task.metadata,
            test_runs=self.test_runs,
            **step_counts(self.steps),
        )
        return ResultLine(
            policy=self.policy_name,
            role=self.spec.role,
            seed=self.spec.seed,
            usage=sum((s.usage for s in self.steps), Usage()),
            diff=scrub(diff),
            result=result,
        )

    def finish(self) -> tuple[list[StepRecord], ResultLine]:
        """Judge the run, clean up, build the records."""
        with self.ws:
            verdict = self.judge()
        return self.steps, self.records(*verdict)


def _stored(text: str | None) -> str | None:
    return scrub(text) if text else text
