"""The sizing grid: the full default pipeline under a few configurations, one fresh copy each.

Usage: .venv/bin/python benchmarks/sizing.py NAME=KEY=VALUE[;KEY=VALUE...] ... [--out FILE]

Each argument is one configuration (`default=` for the committed params). For each, a fresh
copy of the project runs `dvc repro` (see benchmarks/pipeline.py) and the script prints the
wall time, the data sizes and the held-out sft → dpo figures: parse-error rate, tool-call
validity, loops per run and write_file reach. `--out` also writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from pipeline import make_copy, run

SHOWN = ("parse_error_rate", "tool_call_validity", "loops_per_run", "write_file_rate")


def measure(name: str, overrides: list[str]) -> dict:
    repo = Path(tempfile.mkdtemp(prefix=f"ra-size-{name}-")) / "repo"
    make_copy(repo, overrides)
    seconds, _ = run(repo, "dvc", "repro")
    read = lambda p: json.loads((repo / p).read_text())  # noqa: E731
    ev, extract, pairs = (
        read("metrics/eval.json"),
        read("metrics/extract.json"),
        read("metrics/dpo_pairs.json"),
    )
    row = {
        "name": name,
        "overrides": overrides,
        "duration_s": round(seconds, 1),
        "sft_rows": extract.get("rows"),
        "dpo_pairs": pairs["pairs"],
        "onpolicy_pairs": pairs["onpolicy"]["pairs"],
        "heldout_runs": ev["dpo"]["runs"],
    }
    for m in SHOWN:
        row[m] = [ev["sft"][m], ev["dpo"][m]]
    shutil.rmtree(repo.parent, ignore_errors=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="+", help="NAME=KEY=VALUE[;KEY=VALUE...] or NAME=")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    for config in args.configs:
        name, _, rest = config.partition("=")
        overrides = [o for o in rest.split(";") if o]
        row = measure(name, overrides)
        rows.append(row)
        shown = "  ".join(f"{m} {row[m][0]:.3f}→{row[m][1]:.3f}" for m in SHOWN)
        print(
            f"{name}: {row['duration_s']:.0f} s  sft rows {row['sft_rows']}  dpo pairs "
            f"{row['dpo_pairs']} ({row['onpolicy_pairs']} on-policy)  {shown}",
            flush=True,
        )
        if args.out:
            args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
