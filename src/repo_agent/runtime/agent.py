"""Many runs at once: episodes advanced in lock-step so a policy can answer many states in one
call, finished runs judged on threads while the others go on (the loop of one run:
runtime/episode.py)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from repo_agent.records import ResultLine, StepRecord
from repo_agent.runtime.config import AgentConfig
from repo_agent.runtime.episode import Episode, RunSpec
from repo_agent.runtime.policy import Policy, is_trusted
from repo_agent.runtime.sandbox import SandboxChoice, choose_sandbox

# Threads that run finished episodes' tests (subprocesses) while the loop steps the others.
JUDGES = min(4, os.cpu_count() or 1)


def sandbox_for(policy: Policy, config: AgentConfig) -> SandboxChoice | None:
    """Where this policy's test runs will go (None: test_policy never), decided before its
    first request; raises SandboxError for an untrusted policy that would run unsandboxed."""
    if config.test_policy == "never":
        return None
    return choose_sandbox(config.sandbox, is_trusted(policy), f"policy {policy.name!r}")


def run_episodes(
    specs: Iterable[RunSpec],
    policy: Policy,
    config: AgentConfig,
    on_done: Callable[[list[StepRecord], ResultLine], None],
    batch_size: int = 8,
    on_step: Callable[[int], None] | None = None,
    judges: int = JUDGES,
) -> None:
    """Run all specs with up to `batch_size` episodes in flight; each finished run goes to
    `on_done` at once (so an interruption loses only the runs in flight). Refuses (SandboxError)
    before the first request when test runs would go unsandboxed for an untrusted policy.

    A run that ends is judged (its tests run) on one of `judges` threads while the loop goes on
    with the others, so test processes use the cores the policy leaves idle. Which episodes
    share a batch never depends on that timing, and `on_done` gets the runs in the order they
    ended, so the records are the same as with one thread."""
    sandbox_for(policy, config)
    pending = deque(specs)
    active: list[Episode] = []
    judging: deque[tuple[Future[tuple[list[StepRecord], ResultLine]], Episode]] = deque()
    pool = ThreadPoolExecutor(max_workers=max(1, judges), thread_name_prefix="judge")
    try:
        while pending or active:
            while pending and len(active) < batch_size:
                active.append(Episode(pending.popleft(), config, policy.name))
            requests = [e.request() for e in active]
            completions = policy.complete(requests)
            for episode, req, comp in zip(active, requests, completions, strict=True):
                episode.advance(req, comp)
            if on_step is not None:
                on_step(len(active))
            for episode in [e for e in active if e.done]:
                active.remove(episode)
                judging.append((pool.submit(episode.finish), episode))
            # Hand over what is judged, in order; wait when many runs are queued for tests.
            while judging and (judging[0][0].done() or len(judging) > 4 * judges):
                on_done(*judging.popleft()[0].result())
        while judging:
            on_done(*judging.popleft()[0].result())
    finally:
        for episode in active:
            episode.ws.cleanup()
        for future, episode in judging:
            if future.cancel():  # never started: its workspace is still there
                episode.ws.cleanup()
        pool.shutdown(wait=True)
