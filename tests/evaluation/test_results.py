"""The README results block: rendered from eval.json (and the seeds file), written between the
markers by scripts/results.py, whose --check fails on a stale README."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from repo_agent.evaluation.metrics import HEADLINE
from repo_agent.evaluation.results import (
    END,
    START,
    SeedsFile,
    load_seeds,
    model_names,
    render_results,
    replace_block,
    updated_readme,
)

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "results.py"


def model_block(success: float, parse: float) -> dict[str, float]:
    """A flat model block: success and parse-error rate given, the rest fixed, intervals ±0.1."""
    values = dict.fromkeys(HEADLINE, 0.5) | {"success_rate": success, "parse_error_rate": parse}
    block: dict[str, float] = {"runs": 36, "tasks": 12, **values}
    for k, v in values.items():
        block |= {f"{k}_ci_low": round(v - 0.1, 4), f"{k}_ci_high": round(v + 0.1, 4)}
    return block


def pair_block(diffs: dict[str, tuple[float, float, float]]) -> dict[str, float]:
    block: dict[str, float] = {"runs": 36, "tasks": 12}
    for name in HEADLINE:
        d, lo, hi = diffs.get(name, (0.0, 0.0, 0.0))
        block |= {f"{name}_diff": d, f"{name}_diff_ci_low": lo, f"{name}_diff_ci_high": hi}
    return block


def eval_json(shift: float = 0.0) -> dict[str, dict[str, float]]:
    return {
        # eval.json is written key-sorted
        "base": model_block(0.1 + shift, 0.9),
        "base_to_dpo": pair_block({"parse_error_rate": (-0.7, -0.8, -0.6)}),
        "base_to_sft": pair_block({}),
        "dpo": model_block(0.3 + shift, 0.2),
        "sft": model_block(0.2 + shift, 0.25),
        "sft_to_dpo": pair_block({"parse_error_rate": (-0.05, -0.12, 0.02)}),
    }


def seeds_file(shifts: tuple[float, ...] = (0.0, 0.1, 0.2)) -> dict[str, Any]:
    return {
        "format": "repo-agent.seeds/1",
        "param": "finetune.seed",
        "seeds": list(range(len(shifts))),
        "runs": [
            {"seed": i, "duration_s": 480.0 + 60 * i, "eval": eval_json(s)}
            for i, s in enumerate(shifts)
        ],
    }


def rows_of(text: str, first_header: str) -> dict[str, list[str]]:
    """The rows of the table whose header starts with `first_header`, by first cell."""
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"| {first_header} |")))
    out = {}
    for line in lines[start + 2 :]:
        if not line.startswith("| "):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        out[cells[0]] = cells[1:]
    return out


def test_model_names_are_the_model_blocks_in_pipeline_order() -> None:
    assert model_names(eval_json()) == ["base", "sft", "dpo"]
    assert model_names({"zeta": model_block(0, 0), "teacher": model_block(1, 0)}) == [
        "teacher",
        "zeta",
    ]


def test_render_without_seeds_shows_the_committed_run_with_intervals() -> None:
    text = render_results(eval_json())
    rows = rows_of(text, "model")
    assert list(rows) == ["base", "sft", "dpo"]
    success = list(HEADLINE).index("success_rate")
    assert rows["sft"][success] == "0.200 [0.100, 0.300]"
    assert "No seed spread yet" in text
    assert "(`metrics/eval.json`) on 12 held-out tasks (36 runs per model):" in text
    assert "±" not in text


def test_render_has_the_paired_differences_of_the_committed_run() -> None:
    text = render_results(eval_json())
    rows = rows_of(text, "metric")
    assert list(rows) == list(HEADLINE)
    assert rows["parse_error_rate"] == [
        "-0.050 [-0.120, +0.020]",  # sft → dpo: the interval holds 0, no mark
        "-0.700 [-0.800, -0.600] *",  # base → dpo
    ]
    assert "| metric | sft → dpo | base → dpo |" in text
    assert "sft → dpo: 36 runs on 12 tasks" in text


def test_render_with_seeds_shows_mean_and_sample_sd() -> None:
    text = render_results(eval_json(), SeedsFile.model_validate(seeds_file()))
    rows = rows_of(text, "model")
    success = list(HEADLINE).index("success_rate")
    assert rows["base"][success] == "0.200 ± 0.100"  # 0.1, 0.2, 0.3: sample sd 0.1
    assert rows["dpo"][list(HEADLINE).index("avg_steps")] == "0.500 ± 0.000"
    assert "`finetune.seed` in {0, 1, 2}, each on 12 held-out tasks (36 runs per model):" in text
    assert "pipeline run took" not in text  # the README states each command's time once
    assert "No seed spread yet" not in text
    assert rows_of(text, "metric")["parse_error_rate"][1] == "-0.700 [-0.800, -0.600] *"


def test_render_with_one_seed_shows_the_mean_alone() -> None:
    text = render_results(eval_json(), SeedsFile.model_validate(seeds_file((0.0,))))
    assert rows_of(text, "model")["base"][list(HEADLINE).index("success_rate")] == "0.100"


def test_render_without_pairs_says_so() -> None:
    only_base = {"base": model_block(0.1, 0.9)}
    assert "No paired differences" in render_results(only_base)


def test_render_of_an_old_eval_json_without_intervals() -> None:
    plain = {"base": {k: v for k, v in model_block(0.1, 0.9).items() if "_ci_" not in k}}
    assert rows_of(render_results(plain), "model")["base"][0] == "0.900"


def test_seeds_file_is_checked() -> None:
    good = seeds_file()
    with pytest.raises(ValidationError, match="repo-agent.seeds/1"):
        SeedsFile.model_validate(good | {"format": "repo-agent.seeds/2"})
    with pytest.raises(ValidationError, match="one run per seed"):
        SeedsFile.model_validate(good | {"seeds": [0, 1, 5]})
    with pytest.raises(ValidationError, match="extra"):
        SeedsFile.model_validate(good | {"note": "x"})


def test_load_seeds(tmp_path: Path) -> None:
    assert load_seeds(tmp_path / "seeds.json") is None
    (tmp_path / "seeds.json").write_text(json.dumps(seeds_file()), encoding="utf-8")
    seeds = load_seeds(tmp_path / "seeds.json")
    assert seeds is not None and seeds.seeds == [0, 1, 2] and seeds.runs[2].duration_s == 600


README = f"# repo-agent\n\nintro\n\n{START}\nold table\n{END}\n\n## After\n"


def test_replace_block_keeps_the_rest_of_the_readme() -> None:
    out = replace_block(README, "new table\n")
    assert out == f"# repo-agent\n\nintro\n\n{START}\nnew table\n{END}\n\n## After\n"
    assert replace_block(out, "new table") == out


@pytest.mark.parametrize("text", ["no markers", f"{END}\n{START}\n", f"{START}\nonly start"])
def test_replace_block_without_markers_names_them(text: str) -> None:
    with pytest.raises(ValueError, match=f"{START}.*{END}"):
        replace_block(text, "x")


def test_updated_readme_is_stable() -> None:
    once = updated_readme(README, eval_json(), None)
    assert updated_readme(once, eval_json(), None) == once
    assert "old table" not in once and once.endswith(f"{END}\n\n## After\n")


def results(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A README with a stale block and a committed metrics/eval.json, as in the repository."""
    (tmp_path / "README.md").write_text(README, encoding="utf-8")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "eval.json").write_text(json.dumps(eval_json()), encoding="utf-8")
    return tmp_path


def test_script_check_fails_on_a_stale_readme_and_passes_after_rewriting(repo: Path) -> None:
    stale = results(repo, "--check")
    assert stale.returncode == 1
    assert "results block differs" in stale.stderr and "make results" in stale.stderr
    assert (repo / "README.md").read_text(encoding="utf-8") == README  # --check writes nothing

    written = results(repo)
    assert written.returncode == 0, written.stderr
    text = (repo / "README.md").read_text(encoding="utf-8")
    assert "No seed spread yet" in text and "## After" in text

    fresh = results(repo, "--check")
    assert fresh.returncode == 0, fresh.stderr


def test_script_reads_the_seeds_file(repo: Path) -> None:
    seeds = repo / "benchmarks" / "results" / "seeds.json"
    seeds.parent.mkdir(parents=True)
    assert results(repo).returncode == 0
    seeds.write_text(json.dumps(seeds_file()), encoding="utf-8")
    assert results(repo, "--check").returncode == 1  # new seeds: the block is stale
    assert results(repo).returncode == 0
    assert "0.200 ± 0.100" in (repo / "README.md").read_text(encoding="utf-8")


def test_script_takes_other_paths(repo: Path) -> None:
    (repo / "metrics" / "eval.json").rename(repo / "other.json")
    (repo / "README.md").rename(repo / "COPY.md")
    out = results(repo, "--readme", "COPY.md", "--metrics", "other.json")
    assert out.returncode == 0, out.stderr
    assert "No seed spread yet" in (repo / "COPY.md").read_text(encoding="utf-8")


def test_script_without_markers_names_them(repo: Path) -> None:
    (repo / "README.md").write_text("# repo-agent\n", encoding="utf-8")
    for args in ((), ("--check",)):
        out = results(repo, *args)
        assert out.returncode == 2
        assert START in out.stderr and END in out.stderr and "README.md" in out.stderr


def test_script_rejects_a_bad_seeds_file(repo: Path) -> None:
    seeds = repo / "benchmarks" / "results" / "seeds.json"
    seeds.parent.mkdir(parents=True)
    seeds.write_text(json.dumps(seeds_file() | {"format": "nope"}), encoding="utf-8")
    out = results(repo)
    assert out.returncode == 2 and "seeds.json" in out.stderr


def test_render_shows_the_grammar_arms_beside_their_models() -> None:
    metrics = eval_json()
    assert "constrained decoding" not in render_results(metrics)  # no grammar arm, no table
    metrics["sft"] |= {"decode_ms_per_token": 2.0}
    metrics["sft+grammar"] = model_block(0.5, 0.0) | {"decode_ms_per_token": 3.0}
    text = render_results(metrics)
    rows = rows_of(text.split("constrained decoding")[1], "arm")
    assert list(rows) == ["sft", "sft+grammar"]
    assert rows["sft+grammar"][0] == "0.000 [-0.100, 0.100]" and rows["sft+grammar"][-1] == "3.000"
    assert "- sft: 2.000 ms → 3.000 ms (×1.50)" in text
