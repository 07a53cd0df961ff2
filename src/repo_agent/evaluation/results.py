"""The README's results block, rendered from the committed `metrics/eval.json` and, once the
seed sweep has run, `benchmarks/results/seeds.json`: generated, never typed."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from repo_agent.evaluation.metrics import HEADLINE, pair_name
from repo_agent.evaluation.report import (
    constrained_lines,
    markdown_table,
    paired_diff,
    with_interval,
)

SEEDS_FORMAT = "repo-agent.seeds/1"
SEEDS_PATH = Path("benchmarks/results/seeds.json")
START = "<!-- results:start -->"
END = "<!-- results:end -->"
MODEL_ORDER = ("base", "sft", "dpo", "teacher")
README_PAIRS = (("sft", "dpo"), ("base", "dpo"))

EvalMetrics = dict[str, dict[str, float]]


class SeedRun(BaseModel):
    """One whole pipeline run at one seed."""

    model_config = ConfigDict(extra="forbid")

    seed: int
    duration_s: float = Field(ge=0, description="wall time of the whole run")
    eval: EvalMetrics = Field(description="the run's metrics/eval.json")


class SeedsFile(BaseModel):
    """The seed sweep: the pipeline rerun once per value of `param` (e.g. finetune.seed)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["repo-agent.seeds/1"]
    param: str
    seeds: list[int] = Field(min_length=1)
    runs: list[SeedRun]

    @model_validator(mode="after")
    def _one_run_per_seed(self) -> SeedsFile:
        if sorted(r.seed for r in self.runs) != sorted(self.seeds):
            got = [r.seed for r in self.runs]
            raise ValueError(f"runs are for seeds {got}, expected one run per seed {self.seeds}")
        return self


def load_seeds(path: Path) -> SeedsFile | None:
    """The seeds file at `path`, or None where there is none yet."""
    if not path.is_file():
        return None
    return SeedsFile.model_validate_json(path.read_text(encoding="utf-8"))


def model_names(metrics: EvalMetrics) -> list[str]:
    """The model blocks of an eval.json (not the paired blocks), base, sft, dpo, teacher first."""
    names = [k for k, block in metrics.items() if "success_rate" in block]
    return sorted(names, key=lambda m: (MODEL_ORDER.index(m) if m in MODEL_ORDER else 99, m))


def mean_sd(values: list[float], digits: int = 3) -> str:
    """Mean ± sample sd (the mean alone for one value).

    >>> mean_sd([0.1, 0.2, 0.3])
    '0.200 ± 0.100'
    """
    mean = f"{statistics.mean(values):.{digits}f}"
    return mean if len(values) < 2 else f"{mean} ± {statistics.stdev(values):.{digits}f}"


def _design(metrics: EvalMetrics, lead: str) -> str:
    """`<lead> 36 held-out tasks (108 runs per model)`, from the first model's block."""
    blocks = [metrics[m] for m in model_names(metrics)]
    if not blocks or "tasks" not in blocks[0]:
        return ""
    tasks, runs = int(blocks[0]["tasks"]), int(blocks[0]["runs"])
    return f"{lead} {tasks} held-out tasks ({runs} runs per model)"


def seed_spread(seeds: SeedsFile) -> list[str]:
    """Per model, each headline metric as mean ± sample sd over the seed runs."""
    runs = [r.eval for r in seeds.runs]
    models = [m for m in model_names(runs[0]) if all(m in e for e in runs)]
    rows = [[m, *(mean_sd([e[m][k] for e in runs]) for k in HEADLINE)] for m in models]
    values = ", ".join(str(s) for s in seeds.seeds)
    return [
        f"Headline metrics over {len(runs)} runs of the whole pipeline, `{seeds.param}` in "
        f"{{{values}}}{_design(runs[0], ', each on')}: mean ± sample sd across the runs.",
        "",
        markdown_table(["model", *HEADLINE], rows),
    ]


def committed_run(metrics: EvalMetrics) -> list[str]:
    """Per model, each headline metric of the committed run with its 95% interval."""
    rows = [[m, *(with_interval(metrics[m], k) for k in HEADLINE)] for m in model_names(metrics)]
    return [
        f"The committed run (`metrics/eval.json`){_design(metrics, ' on')}: mean [95% interval], "
        "percentile bootstrap over tasks.",
        "",
        markdown_table(["model", *HEADLINE], rows),
        "",
        f"No seed spread yet: there is no `{SEEDS_PATH}`, so every number comes from a single "
        "training run.",
    ]


def paired_table(metrics: EvalMetrics) -> list[str]:
    """The committed run's paired differences b - a (sft → dpo, base → dpo) with 95% intervals."""
    pairs = [(a, b) for a, b in README_PAIRS if pair_name(a, b) in metrics]
    if not pairs:
        return ["No paired differences in `metrics/eval.json` (they need base, sft and dpo)."]
    rows = []
    for name in HEADLINE:
        cells = [name]
        for a, b in pairs:
            diff, lo, hi, excludes = paired_diff(metrics[pair_name(a, b)], name)
            cells.append(f"{diff:+.3f} [{lo:+.3f}, {hi:+.3f}]" + (" *" if excludes else ""))
        rows.append(cells)
    counts = "; ".join(
        f"{a} → {b}: {int(metrics[pair_name(a, b)]['runs'])} runs on "
        f"{int(metrics[pair_name(a, b)]['tasks'])} tasks"
        for a, b in pairs
    )
    return [
        "Paired differences b - a in the committed run, on the runs both models made (same "
        "task, same seed), with 95% paired bootstrap intervals over tasks; * marks an interval "
        f"that excludes 0 ({counts}).",
        "",
        markdown_table(["metric", *(f"{a} → {b}" for a, b in pairs)], rows),
    ]


def grammar_table(metrics: EvalMetrics) -> list[str]:
    """The committed run's constrained arms next to their models (empty without them)."""
    lines = constrained_lines(metrics, model_names(metrics))
    if not lines:
        return []
    return [
        "",
        "Fine-tuning vs constrained decoding in the committed run: each model free and under "
        "the protocol's JSON schema (`<model>+grammar`), same tasks and seeds; mean [95% "
        "interval] over tasks.",
        "",
        *lines,
    ]


def render_results(metrics: EvalMetrics, seeds: SeedsFile | None = None) -> str:
    """The Markdown between the README's results markers: the seed spread of every model (or,
    before the seed sweep, the committed run with its intervals), the paired differences, and
    the constrained arms where the run has them."""
    lines = [
        "<!-- generated by `make results` (scripts/results.py) from metrics/eval.json and "
        f"{SEEDS_PATH}; do not edit by hand -->",
        "",
        *(seed_spread(seeds) if seeds is not None else committed_run(metrics)),
        "",
        *paired_table(metrics),
        *grammar_table(metrics),
    ]
    return "\n".join(lines) + "\n"


def replace_block(readme: str, block: str) -> str:
    """`readme` with the text between its results markers replaced by `block`."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(
            f"no results block: the README needs a line {START} followed by a line {END}"
        )
    return readme[: start + len(START)] + "\n" + block.strip("\n") + "\n" + readme[end:]


def updated_readme(readme: str, metrics: dict[str, Any], seeds: SeedsFile | None) -> str:
    """The README with its results block rendered afresh."""
    return replace_block(readme, render_results(metrics, seeds))
