"""The tiny embedded student the tests build: its size, and the oracle runs whose text trains
its tokenizer (shared fixtures `oracle_steps` and `student_dir` live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from repo_agent.policies.oracle import OraclePolicy
from repo_agent.records import StepRecord
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.runtime.task import Task
from repo_agent.training.config import StudentBuild
from repo_agent.training.student import build_student

TINY = StudentBuild(
    vocab_size=400,
    hidden_size=32,
    num_layers=1,
    num_heads=2,
    num_kv_heads=1,
    intermediate_size=64,
    max_positions=4096,
    seed=0,
)


def oracle_steps_of(tasks: list[Task]) -> list[StepRecord]:
    """Every step of one oracle run per task (no test runs)."""
    steps: list[StepRecord] = []
    run_episodes(
        [RunSpec(t, f"{t.id}:t:0") for t in tasks],
        OraclePolicy(tasks),
        AgentConfig(test_policy="never"),
        lambda s, _line: steps.extend(s),
    )
    return steps


def texts_of(steps: list[StepRecord]) -> list[str]:
    """The messages and outputs of `steps`, as tokenizer training text."""
    return [m.content or "" for s in steps for m in [*s.messages, s.raw_output]]


def tiny_student(out: Path, steps: list[StepRecord]) -> Path:
    """The untrained tiny student in `out`, its tokenizer trained on `steps`."""
    return build_student(texts_of(steps), TINY, out)
