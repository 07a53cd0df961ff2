"""Time the README's two commands as a new user meets them: a fresh clone of HEAD, then
`make repro` (set-up included) and, with `--test`, `make test`; print the time of each stage.

Usage: python3 benchmarks/fresh_clone.py [--test] [--keep DIR] [--out FILE]

The clone gets no `.venv`, no DVC cache and no outputs: `make repro` creates the environment,
installs bubblewrap where it can, and runs every stage. Stage times are the stages' own
`stage NAME: done in N s` lines; set-up is the time before DVC starts its first stage. Nothing
else may run on the machine meanwhile (two torch jobs on 2 cores slow each other 5-10x).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DONE = re.compile(r"^stage (\S+): done in ([0-9.]+) s")


def timed(argv: list[str], cwd: Path, log: Path) -> tuple[float, float | None, dict[str, float]]:
    """Run `argv`, teeing its output to `log`; (total s, s until the first stage, stage s)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    env["DVC_NO_ANALYTICS"] = "1"
    start = time.monotonic()
    first: float | None = None
    stages: dict[str, float] = {}
    with log.open("w", encoding="utf-8") as fh:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.monotonic() - start
            fh.write(f"{now:8.1f} {line}")
            if first is None and line.startswith("Running stage"):
                first = now
            if match := DONE.match(line):
                stages[match.group(1)] = float(match.group(2))
        code = proc.wait()
    total = time.monotonic() - start
    if code != 0:
        sys.exit(f"{' '.join(argv)} failed (exit {code}); see {log}")
    return total, first, stages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--test", action="store_true", help="also time `make test` in the clone")
    ap.add_argument("--keep", type=Path, help="clone here and keep it")
    ap.add_argument("--out", type=Path, help="write the timings here as JSON")
    args = ap.parse_args()
    repo = args.keep or Path(tempfile.mkdtemp(prefix="ra-fresh-")) / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    total, setup, stages = timed(["make", "repro"], repo, repo.parent / "repro.log")
    report: dict[str, object] = {
        "commit": head,
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "make_repro_s": round(total, 1),
        "setup_s": round(setup or 0.0, 1),
        "stages_s": stages,
    }
    print(f"fresh clone of {head}: make repro {total:.0f} s (set-up {setup or 0:.0f} s)")
    for name, seconds in stages.items():
        print(f"  {name:<22} {seconds:7.1f} s")
    if args.test:
        test_total, _, _ = timed(["make", "test"], repo, repo.parent / "test.log")
        report["make_test_s"] = round(test_total, 1)
        print(f"make test {test_total:.0f} s")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if not args.keep:
        shutil.rmtree(repo.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
