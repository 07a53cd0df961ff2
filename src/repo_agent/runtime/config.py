"""How an agent run is conducted: the `agent` params section (no runtime imports, so the
pipeline's params module can collect it without loading the agent loop)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ToolProtocol = Literal["json", "native"]
TestPolicy = Literal["never", "on_final", "after_write"]
SMALL_READ_CHARS = 200  # a re-read below this many chars is a loop (agent.small_read_chars)


class AgentConfig(BaseModel):
    """How an agent run is conducted (shared by the CLI, rollout and eval)."""

    model_config = ConfigDict(extra="forbid")

    tool_protocol: ToolProtocol = "json"
    test_policy: TestPolicy = Field(
        "on_final",
        description="never: no tests; on_final: tests run once when the run ends and decide "
        "success; after_write: also after every write_file, output shown to the agent",
    )
    max_steps: int = Field(12, ge=1, description="step limit per run")
    max_consecutive_parse_errors: int = Field(3, ge=1)
    max_wall_s: float = Field(300.0, gt=0, description="wall-time limit per run")
    max_observation_chars: int = Field(2000, ge=100, description="tool output cut to this")
    max_context_chars: int = Field(8000, ge=500, description="oldest steps dropped past this")
    small_read_chars: int = Field(
        SMALL_READ_CHARS, ge=1, description="re-read below this is a loop"
    )
