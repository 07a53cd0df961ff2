"""Train with several seeds and report mean ± sd of the headline eval metrics over them.

Usage: .venv/bin/python benchmarks/seeds.py [--seeds 0 1 2] [--param finetune.seed]
       [--out benchmarks/results/seeds.json] [--keep DIR] [--set KEY=VALUE ...]
       [--with-committed SECONDS]

For each seed, a fresh copy of the project (see benchmarks/pipeline.py) with `<param>=<seed>`
runs the whole `dvc repro`, one seed after the other, so each duration is a full pipeline on an
otherwise idle machine. Each seed's whole metrics/eval.json and its wall time go to `--out`
(format repo-agent.seeds/1), which `make results` renders into the README. With
`--with-committed`, the checkout's own committed run counts as the run at its seed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import yaml
from pipeline import ROOT, make_copy, run, stages_run

HEADLINE = ("parse_error_rate", "loops_per_run", "tool_call_validity", "write_file_rate")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--param", default="finetune.seed", help="the seed param to vary")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/seeds.json")
    ap.add_argument("--keep", type=Path, help="build the copies here (seed<N>/) and keep them")
    ap.add_argument("--set", action="append", default=[], help="params override KEY=VALUE")
    ap.add_argument(
        "--with-committed",
        type=float,
        metavar="SECONDS",
        help="also count the checkout's own metrics/eval.json as the run at params.yaml's seed "
        "(its `dvc repro` took SECONDS); that seed is then not rerun",
    )
    args = ap.parse_args()
    if len(set(args.seeds)) != len(args.seeds):
        sys.exit("--seeds: each seed once")
    runs = []
    if args.with_committed is not None:
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        seed = params
        for key in args.param.split("."):
            seed = seed[key]
        metrics = json.loads((ROOT / "metrics/eval.json").read_text())
        runs.append({"seed": seed, "duration_s": args.with_committed, "eval": metrics})
        print(f"seed {seed}: the committed run ({args.with_committed:.0f} s)")
    for seed in [s for s in args.seeds if s not in {r["seed"] for r in runs}]:
        base = (
            args.keep / f"seed{seed}" if args.keep else Path(tempfile.mkdtemp(prefix="ra-seeds-"))
        )
        repo = base / "repo"
        make_copy(repo, [*args.set, f"{args.param}={seed}"])
        seconds, out = run(repo, "dvc", "repro")
        metrics = json.loads((repo / "metrics/eval.json").read_text())
        runs.append({"seed": seed, "duration_s": round(seconds, 1), "eval": metrics})
        dpo = metrics.get("dpo", {})
        shown = "  ".join(f"{m} {dpo.get(m)}" for m in HEADLINE)
        print(
            f"seed {seed}: {seconds:.0f} s  {len(stages_run(out))} stages  dpo: {shown}", flush=True
        )
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    runs.sort(key=lambda r: r["seed"])
    seeds = sorted(r["seed"] for r in runs)
    blob = {"format": "repo-agent.seeds/1", "param": args.param, "seeds": seeds, "runs": runs}
    args.out.write_text(json.dumps(blob, indent=1, sort_keys=True) + "\n")
    for model in ("sft", "dpo"):
        for m in HEADLINE:
            values = [r["eval"][model][m] for r in runs if model in r["eval"]]
            if len(values) > 1:
                mean, sd = statistics.mean(values), statistics.stdev(values)
                print(f"{model:4} {m:20} {mean:.3f} ± {sd:.3f}  {values}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
