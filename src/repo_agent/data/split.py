"""Split rows by task id, seeded: held-out tasks never appear in a training row."""

from __future__ import annotations

import random
from typing import Any


class LeakError(Exception):
    """A held-out task id appears in a training row."""


def split_tasks(
    task_ids: list[str], heldout_fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """(train ids, held-out ids): a seeded shuffle of the sorted ids, at least one of each.

    >>> split_tasks(["a", "b", "c", "d", "e"], 0.2, 0)
    (['a', 'b', 'd', 'e'], ['c'])
    """
    ids = sorted(set(task_ids))
    if len(ids) < 2:
        raise ValueError(f"need at least 2 tasks to split, got {len(ids)}")
    rng = random.Random(seed)
    shuffled = ids[:]
    rng.shuffle(shuffled)
    n_held = min(len(ids) - 1, max(1, round(len(ids) * heldout_fraction)))
    held = sorted(shuffled[:n_held])
    train = sorted(shuffled[n_held:])
    return train, held


def group_of(task_id: str) -> str:
    """Tasks derived from the same program share a group (mutants: `<origin>__<mutation>`)."""
    return task_id.split("__", 1)[0]


def check_no_leak(train_task_ids: set[str], heldout_task_ids: set[str]) -> None:
    leaked = sorted(train_task_ids & heldout_task_ids)
    if leaked:
        raise LeakError(f"held-out task(s) found in training rows: {', '.join(leaked)}")
    leaked_groups = sorted(
        {group_of(t) for t in train_task_ids} & {group_of(t) for t in heldout_task_ids}
    )
    if leaked_groups:
        raise LeakError(f"held-out program(s) found in training rows: {', '.join(leaked_groups)}")


def split_rows(
    sft: list[dict[str, Any]], pairs: list[dict[str, Any]], heldout_fraction: float, seed: int
) -> dict[str, Any]:
    """Split provenance rows (`task_id` + `row`) into bare train/held-out rows by program group.

    The held-out groups are drawn from the SFT rows' tasks (the pairs' tasks only when there are
    no SFT rows), so a change that touches only the pairs (a rubric param) leaves the SFT
    files byte-identical. Raises LeakError if a held-out task id ends up in a training row.
    """
    task_ids = sorted({r["task_id"] for r in sft} | {r["task_id"] for r in pairs})
    drawn_from = sft or pairs
    groups = sorted({group_of(r["task_id"]) for r in drawn_from})
    _, held_groups = split_tasks(groups, heldout_fraction, seed)
    heldout = sorted(t for t in task_ids if group_of(t) in set(held_groups))
    train = sorted(set(task_ids) - set(heldout))
    out: dict[str, Any] = {"tasks": {"train": train, "heldout": heldout}}
    for part, ids in (("train", set(train)), ("heldout", set(heldout))):
        out[part] = {
            "sft": [r["row"] for r in sft if r["task_id"] in ids],
            "pairs": [r["row"] for r in pairs if r["task_id"] in ids],
        }
    used = {r["task_id"] for r in sft + pairs if r["task_id"] in set(train)}
    check_no_leak(used, set(heldout))
    return out
