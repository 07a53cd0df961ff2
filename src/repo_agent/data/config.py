"""The params sections of the data steps: `extract`, `rubric`, `pair` and `split`.

Pure pydantic, no data code imported, so collecting params never loads the data steps."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field

from repo_agent.yamlfile import ConfigModel, Seed, Unique


class ExtractParams(ConfigModel):
    """Which teacher steps become SFT rows (see data.extract)."""

    require_success: bool = Field(False, description="only steps of runs whose tests passed")
    dedupe: bool = Field(True, description="drop repeated (state, action) rows")
    max_chars: int = Field(6000, ge=200, description="drop rows longer than this (chars)")


class RubricParams(ConfigModel):
    """Operational scoring of a candidate action on a state (no judge model; data.rubric)."""

    invalid_penalty: float = Field(10.0, ge=0, description="broken JSON / shape / tool / args")
    loop_penalty: float = Field(1.5, ge=0, description="per loop flag the action triggers")
    unseen_path_penalty: float = Field(
        2.0, ge=0, description="read a path no observation named (guessed or memorised)"
    )
    premature_final_penalty: float = Field(
        3.0, ge=0, description="final before anything was written"
    )
    blind_write_penalty: float = Field(3.0, ge=0, description="write before reading the file")
    read_after_grep_reward: float = Field(1.0, ge=0, description="read a file a grep hit")
    localised_write_reward: float = Field(2.0, ge=0, description="write a read, grep-hit file")
    min_context_chars: int = Field(500, ge=1, description="a read this big has 'enough context'")
    min_margin: float = Field(1.5, ge=0, description="keep a pair only at or above this margin")


CorruptionName = Literal[
    "broken_json",
    "unknown_tool",
    "missing_arg",
    "exact_repeat",
    "tiny_reread",
    "repeated_grep",
    "premature_final",
    "write_before_read",
]


class PairParams(ConfigModel):
    """Which preference pairs are built (data.pairs, data.corruptions)."""

    # a repeated name would be drawn more often, a bias nobody asked for
    corruptions: Annotated[list[CorruptionName], Unique] = Field(
        default_factory=lambda: list(get_args(CorruptionName)),
        description="synthetic corruptions of the teacher's action to draw from",
    )
    corruptions_per_step: int = Field(
        1, ge=0, description="corrupted actions per kept teacher step"
    )
    seed: Seed = Field(0, description="seed of the corruptions")


class SplitParams(ConfigModel):
    """Train / held-out split by task (data.split)."""

    heldout_fraction: float = Field(0.2, gt=0, lt=1, description="share of task groups held out")
    seed: Seed = Field(0, description="seed of the split")
