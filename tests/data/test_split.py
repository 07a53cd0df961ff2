"""Train / held-out split by task and program group: seeded, and never leaking."""

from __future__ import annotations

from typing import Any

import pytest

from repo_agent.data.split import LeakError, check_no_leak, group_of, split_rows, split_tasks

IDS = [f"task_{i:02d}" for i in range(20)]


def test_docstring_example() -> None:
    assert split_tasks(["a", "b", "c", "d", "e"], 0.2, 0) == (["a", "b", "d", "e"], ["c"])


def test_split_tasks_is_deterministic_per_seed() -> None:
    assert split_tasks(IDS, 0.2, 7) == split_tasks(IDS, 0.2, 7)
    # Input order and duplicates do not matter: the ids are sorted and deduplicated first.
    assert split_tasks(list(reversed(IDS)) + IDS[:3], 0.2, 7) == split_tasks(IDS, 0.2, 7)


def test_split_tasks_differs_across_seeds() -> None:
    held = {tuple(split_tasks(IDS, 0.2, seed)[1]) for seed in range(5)}
    assert len(held) > 1


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    ("n", "fraction", "n_held"),
    [
        (20, 0.2, 4),
        (20, 0.5, 10),
        (10, 0.25, 2),
        (5, 0.2, 1),
        (3, 0.01, 1),
        (3, 0.99, 2),
        (2, 0.5, 1),
    ],
)
def test_split_tasks_respects_the_fraction(seed: int, n: int, fraction: float, n_held: int) -> None:
    ids = IDS[:n]
    train, held = split_tasks(ids, fraction, seed)
    assert len(held) == n_held
    assert len(train) == n - n_held >= 1
    assert sorted(train + held) == sorted(ids)
    assert not set(train) & set(held)
    assert train == sorted(train) and held == sorted(held)


def test_split_tasks_needs_two_tasks() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_tasks(["only", "only"], 0.5, 0)


@pytest.mark.parametrize(
    ("task_id", "group"),
    [
        ("a_binary_search", "a_binary_search"),
        ("gcd__swap_operator", "gcd"),
        ("gcd__swap_operator_2", "gcd"),
        ("bucketsort__off_by_one_3", "bucketsort"),
        ("x__a__b", "x"),
    ],
)
def test_group_of(task_id: str, group: str) -> None:
    assert group_of(task_id) == group


def rows(task_ids: list[str], kind: str) -> list[dict[str, Any]]:
    return [{"task_id": t, "row": {kind: t, "n": i}} for i, t in enumerate(task_ids)]


MUTANTS = [f"prog{p}__{op}_{n}" for p in range(6) for op in ("swap", "flip") for n in (2, 3)]
MUTANTS += [f"prog{p}__swap" for p in range(6)]


@pytest.mark.parametrize("seed", range(4))
def test_mutants_of_one_program_stay_together(seed: int) -> None:
    out = split_rows(rows(MUTANTS, "sft"), rows(MUTANTS[::2], "pair"), 0.34, seed)
    train, held = out["tasks"]["train"], out["tasks"]["heldout"]
    assert {group_of(t) for t in train}.isdisjoint({group_of(t) for t in held})
    assert len({group_of(t) for t in held}) == 2  # round(6 * 0.34)
    assert sorted(train + held) == sorted(MUTANTS)


@pytest.mark.parametrize("seed", range(4))
def test_split_rows_never_leaks(seed: int) -> None:
    sft_ids = [*IDS[:12], "gcd__swap", "gcd__flip_2", "lcm__swap"]
    pair_ids = [*IDS[6:], "gcd__swap_2", "lcm__flip"]
    out = split_rows(rows(sft_ids, "sft"), rows(pair_ids, "pair"), 0.2, seed)
    held = set(out["tasks"]["heldout"])
    train = set(out["tasks"]["train"])
    assert held and train and not held & train
    assert train | held == set(sft_ids) | set(pair_ids)
    for part, ids in (("train", train), ("heldout", held)):
        for kind, key in (("sft", "sft"), ("pairs", "pair")):
            assert all(r[key] in ids for r in out[part][kind])
    # Bare rows: the provenance wrapper is gone.
    assert all(set(r) == {"sft", "n"} for r in out["train"]["sft"])
    n_sft = len(out["train"]["sft"]) + len(out["heldout"]["sft"])
    n_pairs = len(out["train"]["pairs"]) + len(out["heldout"]["pairs"])
    assert (n_sft, n_pairs) == (len(sft_ids), len(pair_ids))
    check_no_leak(train, held)


def test_split_rows_is_deterministic_and_seeded() -> None:
    sft, pairs = rows(IDS, "sft"), rows(IDS[::3], "pair")
    assert split_rows(sft, pairs, 0.2, 3) == split_rows(sft, pairs, 0.2, 3)
    held = {tuple(split_rows(sft, pairs, 0.2, s)["tasks"]["heldout"]) for s in range(5)}
    assert len(held) > 1


def test_split_rows_with_tasks_only_in_pairs() -> None:
    out = split_rows([], rows(["a", "b", "c"], "pair"), 0.3, 0)
    assert len(out["tasks"]["heldout"]) == 1 and len(out["tasks"]["train"]) == 2
    assert out["train"]["sft"] == out["heldout"]["sft"] == []


def test_split_rows_needs_two_program_groups() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_rows(rows(["gcd__a", "gcd__b_2"], "sft"), [], 0.5, 0)


def test_check_no_leak_passes_disjoint_groups() -> None:
    check_no_leak({"a", "gcd__swap", "gcd__flip_2"}, {"b", "lcm__swap"})
    check_no_leak(set(), {"b"})


def test_check_no_leak_raises_on_a_shared_task() -> None:
    with pytest.raises(LeakError, match="held-out task.*: b"):
        check_no_leak({"a", "b"}, {"b", "c"})


def test_check_no_leak_raises_on_a_shared_program() -> None:
    with pytest.raises(LeakError, match="held-out program.*: gcd"):
        check_no_leak({"a", "gcd__swap_2"}, {"gcd__flip", "c"})
    with pytest.raises(LeakError, match="gcd"):
        check_no_leak({"gcd"}, {"gcd__flip"})


@pytest.mark.parametrize("seed", range(4))
def test_a_change_to_the_pairs_alone_leaves_the_sft_split_as_it_was(seed: int) -> None:
    """What a rubric change does: other pairs, even pairs of tasks no SFT row has."""
    sft = rows(IDS, "sft")
    before = split_rows(sft, rows(IDS[::2], "pair"), 0.25, seed)
    after = split_rows(sft, rows([*IDS[1::3], "only_in_pairs"], "pair"), 0.25, seed)
    for part in ("train", "heldout"):
        assert after[part]["sft"] == before[part]["sft"]
    assert set(after["tasks"]["heldout"]) - {"only_in_pairs"} == set(before["tasks"]["heldout"])
