"""Fine-tuning vs constrained decoding on the default held-out set, and what the grammar costs.

    .venv/bin/python benchmarks/constrained.py [--states 64] [--repeats 3] [--models sft dpo]

1. The table: each eval arm's parse errors, loops per run, tool-call validity, write_file
   reach, success and generation time per token, from `metrics/eval.json` (the pipeline's own
   held-out runs; run `make repro` first, with `eval.grammar` set).
2. The overhead, measured here on the same states: the held-out conversation states each model
   met in its eval (data/eval/<model>.jsonl), generated greedily in batches of 8 with free
   decoding and under the grammar, interleaved `--repeats` times; time per generated token is
   generate() time over completion tokens. Also counts how many outputs parse, and how many
   are identical with and without the grammar.

Writes benchmarks/results/constrained.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from repo_agent.policies.config import PolicyConfig
from repo_agent.policies.hf import HFPolicy
from repo_agent.runtime.policy import PolicyRequest
from repo_agent.runtime.protocol import ParseError, parse_json_action
from repo_agent.traces import read_trace

ROOT = Path(__file__).resolve().parents[1]

COLUMNS = (
    "parse_error_rate",
    "loops_per_run",
    "tool_call_validity",
    "write_file_rate",
    "success_rate",
    "decode_ms_per_token",
)


def arm_table(metrics: dict) -> list[str]:
    """Markdown rows of every eval arm in metrics/eval.json (blocks with a `runs` count)."""
    arms = [a for a, block in metrics.items() if "runs" in block and "_to_" not in a]
    lines = ["| arm | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for arm in arms:
        block = metrics[arm]
        cells = []
        for key in COLUMNS:
            value = block.get(key, float("nan"))
            lo, hi = block.get(f"{key}_ci_low"), block.get(f"{key}_ci_high")
            cells.append(f"{value:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""))
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return lines


def held_out_states(model: str, n: int) -> list[PolicyRequest]:
    """Up to `n` states `model` met on the held-out set, spread over its eval trace."""
    steps = read_trace(ROOT / "data" / "eval" / f"{model}.jsonl").steps
    picked = steps[:: max(1, len(steps) // n)][:n]
    return [
        PolicyRequest(task_id=s.task_id, run_id=s.run_id, seed=0, step=s.step, messages=s.messages)
        for s in picked
    ]


def timed(policy: HFPolicy, states: list[PolicyRequest]) -> tuple[float, int, list[str]]:
    """(seconds, completion tokens, texts) of one greedy pass over `states`."""
    start = time.perf_counter()
    outs = policy.complete(states)
    seconds = time.perf_counter() - start
    return (
        seconds,
        sum(o.usage.completion_tokens for o in outs),
        [o.message.content or "" for o in outs],
    )


def parses(text: str) -> bool:
    return not isinstance(parse_json_action(text), ParseError)


def overhead(model: str, n_states: int, repeats: int) -> dict:
    states = held_out_states(model, n_states)
    path = str(ROOT / "models" / model)
    policies = {
        mode: HFPolicy(PolicyConfig(kind="hf", model=path, constrain=mode, max_new_tokens=768))
        for mode in ("none", "json_schema")
    }
    best: dict[str, float] = {}
    texts: dict[str, list[str]] = {}
    for _ in range(repeats):  # interleaved, keeping each mode's fastest pass
        for mode, policy in policies.items():
            seconds, tokens, out = timed(policy, states)
            per_token = 1000 * seconds / max(tokens, 1)
            best[mode] = min(best.get(mode, float("inf")), per_token)
            texts[mode] = out
    free, constrained = texts["none"], texts["json_schema"]
    return {
        "model": model,
        "states": len(states),
        "free_ms_per_token": round(best["none"], 4),
        "grammar_ms_per_token": round(best["json_schema"], 4),
        "overhead": round(best["json_schema"] / best["none"], 3),
        "free_parsed": sum(map(parses, free)),
        "grammar_parsed": sum(map(parses, constrained)),
        "identical": sum(a == b for a, b in zip(free, constrained, strict=True)),
        "free_tokens": sum(len(t) for t in free),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["base", "sft", "dpo"])
    args = parser.parse_args()
    metrics_file = ROOT / "metrics" / "eval.json"
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    print("## Eval arms (metrics/eval.json: the pipeline's held-out runs)\n")
    print("\n".join(arm_table(metrics)))
    print("\n## Grammar overhead on the same held-out states (greedy, batch 8)\n")
    print(
        "| model | states | free ms/token | grammar ms/token | overhead | parsed free → grammar "
        "| identical outputs |"
    )
    print("|---|---|---|---|---|---|---|")
    rows = []
    for model in args.models:
        row = overhead(model, args.states, args.repeats)
        rows.append(row)
        print(
            f"| {model} | {row['states']} | {row['free_ms_per_token']:.3f} | "
            f"{row['grammar_ms_per_token']:.3f} | ×{row['overhead']:.2f} | "
            f"{row['free_parsed']} → {row['grammar_parsed']} | {row['identical']} |"
        )
    out = ROOT / "benchmarks" / "results" / "constrained.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    arms = {a: b for a, b in metrics.items() if "runs" in b and "_to_" not in a}
    out.write_text(json.dumps({"arms": arms, "overhead": rows}, indent=1) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
