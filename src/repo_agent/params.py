"""Typed pipeline parameters: `params.yaml`, one section per stage plus shared sections."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from repo_agent.agent import AgentConfig
from repo_agent.finetune_remote import RemoteFinetuneConfig
from repo_agent.policies.factory import PolicyConfig


class ParamsError(Exception):
    """params.yaml is missing, malformed, or has unknown/invalid keys (named in the message)."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SuiteParams(Section):
    """Which tasks the pipeline uses."""

    names: list[Literal["builtin", "quixbugs", "mutants"]] = Field(
        default_factory=lambda: ["builtin"], min_length=1
    )
    quixbugs_path: str | None = None
    mutants_path: str | None = Field(
        None, description="directory of mutant tasks; default: generated into data/mutants"
    )
    mutants_per_program: int = Field(3, ge=1, description="mutants generated per program")
    mutants_seed: int = 0
    tasks: list[str] = Field(default_factory=list, description="restrict to these ids")
    max_tasks: int | None = Field(None, ge=1, description="first N tasks (sorted by id)")


class StudentBuild(Section):
    """The embedded student built from scratch when `student.model` is `builtin-tiny`."""

    vocab_size: int = Field(2048, ge=300)
    hidden_size: int = Field(128, ge=16)
    num_layers: int = Field(2, ge=1)
    num_heads: int = Field(4, ge=1)
    num_kv_heads: int = Field(2, ge=1)
    intermediate_size: int = Field(384, ge=16)
    max_positions: int = Field(4096, ge=256)
    seed: int = 0


class StudentParams(PolicyConfig):
    """The student policy; `model: builtin-tiny` builds the embedded model into models/base."""

    kind: Literal["oracle", "hf", "openai", "together"] = "hf"
    model: str = "builtin-tiny"
    build: StudentBuild = Field(default_factory=StudentBuild)


class RolloutParams(Section):
    teacher_rollouts: int = Field(2, ge=1, description="teacher runs per task")
    student_rollouts: int = Field(1, ge=0, description="student runs per task")
    label_student_states: bool = Field(True, description="teacher's next action per student step")
    seed: int = 0
    concurrency: int = Field(4, ge=1, description="API policies: requests in flight")


class ExtractParams(Section):
    source: Literal["teacher"] = "teacher"
    require_success: bool = False
    dedupe: bool = True
    max_chars: int = Field(6000, ge=200, description="drop rows longer than this (chars)")


class RubricParams(Section):
    """Operational scoring of a candidate action on a state (no judge model)."""

    invalid_penalty: float = Field(10.0, ge=0, description="broken JSON / shape / tool / args")
    loop_penalty: float = Field(1.0, ge=0, description="per loop flag the action triggers")
    premature_final_penalty: float = Field(3.0, ge=0)
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


class PairParams(Section):
    use_student: bool = True
    corruptions: list[CorruptionName] = Field(
        default_factory=lambda: list(get_args(CorruptionName)),
        description="synthetic corruptions of the teacher's action to draw from",
    )
    corruptions_per_step: int = Field(1, ge=0)
    seed: int = 0


class SplitParams(Section):
    heldout_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 0


class SFTParams(Section):
    """Defaults sized for the embedded student (see README: batch 1 trains it far better)."""

    epochs: float = Field(4.0, gt=0)
    learning_rate: float = Field(2e-3, gt=0)
    batch_size: int = Field(1, ge=1)
    max_length: int = Field(2048, ge=64)


class DPOParams(Section):
    epochs: float = Field(1.0, gt=0)
    learning_rate: float = Field(3e-5, gt=0)
    batch_size: int = Field(2, ge=1)
    beta: float = Field(0.1, gt=0)
    sft_weight: float = Field(
        1.0, ge=0, description="weight of an SFT loss on the preferred action (RPO); 0 = pure DPO"
    )
    max_length: int = Field(2048, ge=64)


class FinetuneParams(Section):
    backend: Literal["local", "together", "openai"] = "local"
    base_model: str = Field("", description="remote backends: the model to fine-tune")
    lora: bool = Field(False, description="LoRA via peft (what a 7B needs)")
    lora_r: int = 16
    seed: int = 0
    threads: int = Field(2, ge=1)
    sft: SFTParams = Field(default_factory=SFTParams)
    dpo: DPOParams = Field(default_factory=DPOParams)
    remote: RemoteFinetuneConfig = Field(
        default_factory=RemoteFinetuneConfig, description="backend together | openai"
    )


class EvalParams(Section):
    rollouts: int = Field(1, ge=1, description="runs per held-out task and model")
    models: list[Literal["base", "sft", "dpo", "teacher"]] = Field(
        default_factory=lambda: ["base", "sft", "dpo", "teacher"]
    )
    seed: int = 1000
    temperature: float = Field(0.0, ge=0)
    bootstrap_samples: int = Field(1000, ge=100)


class Params(Section):
    suite: SuiteParams = Field(default_factory=SuiteParams)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    teacher: PolicyConfig = Field(default_factory=lambda: PolicyConfig(kind="oracle", explore=0.3))
    student: StudentParams = Field(default_factory=StudentParams)
    rollout: RolloutParams = Field(default_factory=RolloutParams)
    extract: ExtractParams = Field(default_factory=ExtractParams)
    rubric: RubricParams = Field(default_factory=RubricParams)
    pair: PairParams = Field(default_factory=PairParams)
    split: SplitParams = Field(default_factory=SplitParams)
    finetune: FinetuneParams = Field(default_factory=FinetuneParams)
    eval: EvalParams = Field(default_factory=EvalParams)

    @model_validator(mode="after")
    def _check(self) -> Params:
        if self.student.kind == "hf" and self.agent.tool_protocol != "json":
            raise ValueError("a local hf student speaks agent.tool_protocol json only")
        return self


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key '{where}'")
        else:
            lines.append(f"'{where}': {err['msg']}")
    return "; ".join(lines)


def parse_params(raw: object, source: str = "params") -> Params:
    """Validate a params mapping; unknown keys are errors that name the key."""
    try:
        return Params.model_validate(raw or {})
    except ValidationError as exc:
        raise ParamsError(f"{source}: {_describe(exc)}") from exc


def load_params(path: Path = Path("params.yaml")) -> Params:
    if not path.is_file():
        raise ParamsError(f"{path}: not found (run from the project root)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    return parse_params(raw, str(path))
