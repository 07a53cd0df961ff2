"""API rollouts at 1 and 8 workers: the `openai` policy against the local fake API server with
injected latency, acting on builtin tasks (the server answers with the oracle's next action).

    .venv/bin/python benchmarks/api_concurrency.py [--tasks 16] [--latency-ms 50]

The server runs in its own process, as a real API would, so its work does not share our GIL.
Tests are not run (test_policy never): the benchmark measures the API path, not pytest.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fake_api import FakeAPI, oracle_responder

from repo_agent.policies.config import PolicyConfig
from repo_agent.policies.factory import make_policy
from repo_agent.records import ResultLine, StepRecord
from repo_agent.runtime.agent import run_episodes
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import RunSpec
from repo_agent.suites.loader import load_suite


def serve(n_tasks: int, latency_s: float, conn: Connection) -> None:
    """Child process: serve the fake API until told to stop."""
    tasks = load_suite("builtin")[:n_tasks]
    with FakeAPI(oracle_responder(tasks, "json")) as api:
        api.latency_s = latency_s
        conn.send(api.url)
        conn.recv()


def rollouts(url: str, tasks: list, workers: int) -> tuple[float, int, int]:
    """(wall seconds, finished runs, API calls) for one rollout of every task."""
    cfg = PolicyConfig(
        kind="openai",
        model="bench",
        base_url=f"{url}/v1",
        cache=False,
        concurrency=workers,
        max_new_tokens=2048,
    )
    policy = make_policy(cfg, tasks, "json")
    agent = AgentConfig(tool_protocol="json", test_policy="never", max_steps=12)
    specs = [RunSpec(t, f"{t.id}:bench:{workers}") for t in tasks]
    finished: list[ResultLine] = []

    def done(steps: list[StepRecord], line: ResultLine) -> None:
        finished.append(line)

    start = time.perf_counter()
    run_episodes(specs, policy, agent, done, batch_size=8)
    wall = time.perf_counter() - start
    ok = sum(line.result.final_summary is not None for line in finished)
    return wall, ok, policy.stats.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=16, help="builtin tasks, one rollout each")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="per response")
    args = parser.parse_args()
    tasks = load_suite("builtin")[: args.tasks]
    parent, child = mp.get_context("spawn").Pipe()
    server = mp.get_context("spawn").Process(
        target=serve, args=(args.tasks, args.latency_ms / 1000, child), daemon=True
    )
    server.start()
    try:
        url = parent.recv()
        results = {w: rollouts(url, tasks, w) for w in (1, 8)}
    finally:
        parent.send("stop")
        server.join(timeout=10)
    for w, (wall, ok, calls) in results.items():
        print(f"workers={w}: {wall:6.2f} s  runs finished {ok}/{len(tasks)}  API calls {calls}")
    speedup = results[1][0] / results[8][0]
    print(f"speed-up 8 vs 1 workers: {speedup:.1f}x  (latency {args.latency_ms:g} ms/response)")


if __name__ == "__main__":
    main()
