"""How an agent run is conducted: the `agent` params section (no runtime imports, so the
pipeline's params module can collect it without loading the agent loop)."""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import Field

from repo_agent.yamlfile import ConfigModel

ToolProtocol = Literal["json", "native"]
TestPolicy = Literal["never", "on_final", "after_write"]
Sandbox = Literal["auto", "bwrap", "none"]
SMALL_READ_CHARS = 200  # a re-read below this many chars is a loop (agent.small_read_chars)
LOOP_WINDOW = 8  # recent calls searched for an alternation (agent.loop_window)


class LoopLimits(NamedTuple):
    """What the loop detector counts as a loop; the agent's and the rubric's are the same."""

    small_read_chars: int = SMALL_READ_CHARS
    window: int = LOOP_WINDOW


LOOP_LIMITS = LoopLimits()  # the defaults


class AgentConfig(ConfigModel):
    """How an agent run is conducted (shared by the CLI, rollout and eval)."""

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
    loop_window: int = Field(
        LOOP_WINDOW,
        ge=4,
        description="recent calls searched for A/B alternation (A,B,A,B is a loop)",
    )
    sandbox: Sandbox = Field(
        "auto",
        description="test runs: bwrap (read-only system, workspace the only writable path, no "
        "network, own PID namespace); none (new session, process group killed on timeout); "
        "auto: bwrap when it is installed and works, else none with a warning",
    )
    max_test_output_chars: int = Field(
        20_000, ge=1000, description="test output kept (head and tail), the rest counted as cut"
    )

    @property
    def loop_limits(self) -> LoopLimits:
        return LoopLimits(self.small_read_chars, self.loop_window)
