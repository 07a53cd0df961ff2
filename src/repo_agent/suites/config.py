"""The `suite` params section: which tasks the pipeline uses."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from repo_agent.yamlfile import ConfigModel, Seed, Unique


class SuiteParams(ConfigModel):
    """Which tasks the pipeline uses."""

    names: Annotated[list[Literal["builtin", "quixbugs", "mutants", "renamed"]], Unique] = Field(
        default_factory=lambda: ["builtin", "renamed"], min_length=1
    )
    quixbugs_path: str | None = None
    mutants_path: str | None = Field(
        None, description="directory of mutant tasks; default: generated into data/mutants"
    )
    mutants_per_program: int = Field(3, ge=1, description="mutants generated per program")
    mutants_seed: Seed = 0
    renamed_path: str | None = Field(
        None, description="directory of renamed variants; default: generated into data/renamed"
    )
    renamed_per_program: int = Field(
        1, ge=1, description="renamed variants (files, functions, tests) tried per builtin task"
    )
    renamed_seed: Seed = 0
    tasks: Annotated[list[str], Unique] = Field(
        default_factory=list, description="restrict to these ids"
    )
    max_tasks: int | None = Field(None, ge=1, description="first N tasks (sorted by id)")
