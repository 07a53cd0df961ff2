"""Typed pipeline parameters: `params.yaml`, one section per stage plus shared sections.

Each section's model lives beside the code that reads it (runtime, policies, suites, data,
training); this module only collects them, plus the two sections that the pipeline steps
themselves read (`rollout`, `eval`). Config modules import no step code, so loading params
loads only pydantic models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from repo_agent.data.config import ExtractParams, PairParams, RubricParams, SplitParams
from repo_agent.policies.config import OracleConfig, PolicyConfig
from repo_agent.runtime.config import AgentConfig
from repo_agent.suites.config import SuiteParams
from repo_agent.training.config import FinetuneParams, HFStudent, StudentParams
from repo_agent.yamlfile import ConfigModel, Seed, Unique, load_yaml


class ParamsError(Exception):
    """params.yaml is missing, malformed, or has unknown, repeated or invalid keys (named in
    the message)."""


class RolloutParams(ConfigModel):
    """How many runs the teacher makes per task (pipeline.rollout)."""

    teacher_rollouts: int = Field(1, ge=1, description="teacher runs per task (profile `full`: 2)")
    seed: Seed = 0


class OnPolicyParams(ConfigModel):
    """The SFT student's own runs on the train tasks, labelled by the teacher state by state
    (pipeline.onpolicy): the rubric turns them into DPO pairs of the student's real mistakes."""

    rollouts: int = Field(1, ge=0, description="student runs per train task (0: no on-policy)")
    temperature: float = Field(0.3, ge=0, description="sampling temperature of those runs")
    seed: Seed = 2000


EvalModel = Literal["base", "sft", "dpo", "teacher"]
GRAMMAR = "+grammar"  # an eval arm `<model>+grammar`: the model under constrain: json_schema


def split_arm(arm: str) -> tuple[EvalModel, bool]:
    """(model, constrained) of an eval arm name.

    >>> split_arm("sft+grammar"), split_arm("dpo")
    (('sft', True), ('dpo', False))
    """
    model, constrained = arm.removesuffix(GRAMMAR), arm.endswith(GRAMMAR)
    if model not in get_args(EvalModel):
        models = ", ".join(get_args(EvalModel))
        raise ValueError(
            f"unknown eval arm {arm!r}; arms are <model> or <model>{GRAMMAR}, model one of {models}"
        )
    return model, constrained  # type: ignore[return-value]


def eval_stage(arm: str) -> str:
    """The DVC stage that writes an arm's trace.

    >>> eval_stage("sft"), eval_stage("sft+grammar")
    ('eval@sft', 'eval_grammar@sft')
    """
    model, constrained = split_arm(arm)
    return f"eval_grammar@{model}" if constrained else f"eval@{model}"


class EvalParams(ConfigModel):
    """Which models are evaluated on the held-out tasks, and how (pipeline.eval).

    Each task gets one greedy run (k=0) and `samples` sampled runs (k=1..samples, at
    `temperature`); run k uses seed `seed + k` for every model, so runs pair across models."""

    samples: int = Field(1, ge=0, description="sampled runs per held-out task, besides greedy")
    models: Annotated[list[EvalModel], Unique] = Field(
        default_factory=lambda: ["base", "sft", "dpo", "teacher"], min_length=1
    )
    grammar: Annotated[list[EvalModel], Unique] = Field(
        default_factory=lambda: ["base", "sft", "dpo"],
        description="models also evaluated under constrained decoding, as arms <model>+grammar",
    )
    seed: Seed = 1000
    temperature: float = Field(0.3, gt=0, description="sampling temperature of the samples")
    heldout_mutants: int = Field(
        3, ge=0, description="mutants of each held-out program added to the held-out set"
    )
    bootstrap_samples: int = Field(1000, ge=100)

    @field_validator("models", mode="before")
    @classmethod
    def _no_arm_in_models(cls, value: object) -> object:
        if isinstance(value, list):
            arms = [v for v in value if isinstance(v, str) and v.endswith(GRAMMAR)]
            if arms:
                models = [a.removesuffix(GRAMMAR) for a in arms]
                raise ValueError(
                    f"{', '.join(arms)}: list constrained arms in eval.grammar "
                    f"(eval.grammar: [{', '.join(models)}]), not in eval.models: DVC's foreach "
                    f"cannot make the arm's model folder (models/<model>) from its name"
                )
        return value

    def arms(self) -> list[str]:
        """Every evaluated arm: the models, then `<model>+grammar` for each of eval.grammar."""
        return [*self.models, *(f"{m}{GRAMMAR}" for m in self.grammar)]


class Params(ConfigModel):
    suite: SuiteParams = Field(default_factory=SuiteParams)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    teacher: PolicyConfig = Field(default_factory=lambda: OracleConfig(explore=0.3))
    student: StudentParams = Field(default_factory=HFStudent)
    rollout: RolloutParams = Field(default_factory=RolloutParams)
    extract: ExtractParams = Field(default_factory=ExtractParams)
    rubric: RubricParams = Field(default_factory=RubricParams)
    pair: PairParams = Field(default_factory=PairParams)
    split: SplitParams = Field(default_factory=SplitParams)
    onpolicy: OnPolicyParams = Field(default_factory=OnPolicyParams)
    finetune: FinetuneParams = Field(default_factory=FinetuneParams)
    eval: EvalParams = Field(default_factory=EvalParams)

    @model_validator(mode="after")
    def _check(self) -> Params:
        if self.student.kind in ("hf", "vllm") and self.agent.tool_protocol != "json":
            raise ValueError(
                f"a local {self.student.kind} student speaks agent.tool_protocol json only"
            )
        if "teacher" in self.eval.grammar and self.teacher.kind == "oracle":
            raise ValueError(
                "eval.grammar: the oracle teacher writes valid actions by construction; "
                "teacher+grammar needs an hf or API teacher"
            )
        return self


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key '{where}'")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"'{where}': {msg}" if where else msg)
    return "; ".join(lines)


def parse_params(raw: object, source: str = "params") -> Params:
    """Validate a params mapping; unknown keys are errors that name the key."""
    try:
        return Params.model_validate(raw or {})
    except ValidationError as exc:
        raise ParamsError(f"{source}: {_describe(exc)}") from exc


def load_params(path: Path = Path("params.yaml")) -> Params:
    """Read and validate params.yaml (a missing file, bad YAML or a repeated key is a
    ParamsError)."""
    if not path.is_file():
        raise ParamsError(f"{path}: not found (run from the project root)")
    try:
        raw = load_yaml(path)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    return parse_params(raw, str(path))
