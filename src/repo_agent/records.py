"""Records that cross module and file boundaries: messages, actions, steps, run results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TRACE_FORMAT = "repo-agent.trace/1"
RESULT_FORMAT = "repo-agent.result/1"
SFT_FORMAT = "repo-agent.sft/1"  # data.extract rows with provenance
PAIR_FORMAT = "repo-agent.pair/1"  # data.pairs rows with provenance
LABEL_FORMAT = "repo-agent.label/1"  # the teacher's labels of student states


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FunctionCall(Strict):
    name: str
    arguments: str  # JSON text, as OpenAI-style APIs send it


class NativeToolCall(Strict):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(Strict):
    """One chat message (OpenAI chat shape)."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = ""
    tool_calls: list[NativeToolCall] | None = None
    tool_call_id: str | None = None

    def dump(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Usage(Strict):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    # Seconds spent generating these completion tokens: a local model's share of its batch's
    # generate() time, an API request's time (kept from the first call on a cache hit).
    decode_s: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            decode_s=self.decode_s + other.decode_s,
        )


class Completion(Strict):
    """One assistant message produced by a policy, with its token usage."""

    message: Message
    usage: Usage = Field(default_factory=Usage)
    error: str | None = None  # set when the policy itself failed (API error after retries)
    truncated: bool = False  # generation stopped at the token budget (max_new_tokens)


class ToolCallAction(Strict):
    type: Literal["tool_call"] = "tool_call"
    name: str
    args: dict[str, Any]


class FinalAction(Strict):
    type: Literal["final"] = "final"
    summary: str


Action = ToolCallAction | FinalAction


class TaskMetadata(Strict):
    difficulty: str
    category: str
    expected_files: list[str]


class StepRecord(Strict):
    """One trace line per agent step."""

    format: Literal["repo-agent.trace/1"] = TRACE_FORMAT
    kind: Literal["step"] = "step"
    task_id: str
    run_id: str
    policy: str
    step: int
    messages: list[Message]  # exactly what the policy saw
    raw_output: Message
    action: ToolCallAction | FinalAction | None = None
    parse_error: str | None = None  # error code, see protocol.ParseErrorCode
    parse_error_detail: str | None = None
    loop_flags: list[str] = Field(default_factory=list)
    observation: str | None = None
    tool_error: bool = False
    usage: Usage = Field(default_factory=Usage)


class RunResult(Strict):
    """One record per run: exactly the fields of docs/architecture.md."""

    task_id: str
    run_id: str
    success: bool
    steps: int
    tool_calls: int
    files_touched: list[str]
    error: str | None
    duration_s: float
    final_summary: str | None
    test_output: str | None
    metadata: TaskMetadata
    reflection_count: int
    loop_detections: int
    parse_errors: int
    test_runs: int
    tool_breakdown: dict[str, int]


class ResultLine(Strict):
    """A run result as written in a trace file, tagged with its format and policy."""

    format: Literal["repo-agent.result/1"] = RESULT_FORMAT
    kind: Literal["result"] = "result"
    policy: str
    role: str = "run"  # teacher | student | base | sft | dpo | ...
    seed: int = 0
    usage: Usage = Field(default_factory=Usage)
    diff: str = ""
    result: RunResult


class TeacherLabel(Strict):
    """The teacher's next action on a student state (written by rollout, read by pair)."""

    format: str = LABEL_FORMAT
    run_id: str
    step: int
    output: Message
