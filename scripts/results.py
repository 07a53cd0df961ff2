"""Rewrite README.md's results block (between `<!-- results:start -->` and
`<!-- results:end -->`) from metrics/eval.json and benchmarks/results/seeds.json; with
`--check`, exit 1 instead where the block is stale."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from repo_agent.evaluation.results import SEEDS_PATH, load_seeds, updated_readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--metrics", type=Path, default=Path("metrics/eval.json"))
    parser.add_argument("--seeds", type=Path, default=SEEDS_PATH)
    parser.add_argument(
        "--check", action="store_true", help="only compare; exit 1 if the block is stale"
    )
    args = parser.parse_args(argv)
    path = args.metrics
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
        path = args.seeds
        seeds = load_seeds(path)
        path = args.readme
        readme = path.read_text(encoding="utf-8")
        updated = updated_readme(readme, metrics, seeds)
    except (OSError, ValueError) as exc:  # a pydantic ValidationError is a ValueError
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if updated != readme:
            print(
                f"{args.readme}: the results block differs from {args.metrics} and "
                f"{args.seeds}; run `make results` to regenerate it",
                file=sys.stderr,
            )
            return 1
        print(f"{args.readme}: results block up to date")
        return 0
    if updated != readme:
        args.readme.write_text(updated, encoding="utf-8")
    print(f"{args.readme}: results block written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
