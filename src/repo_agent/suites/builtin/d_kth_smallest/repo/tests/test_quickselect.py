import pytest

from quickselect import kth_smallest


def test_single_element():
    assert kth_smallest([7], 1) == 7


def test_all_ranks_match_sorted():
    data = [9, 1, 8, 2, 7, 3, 6, 4, 5]
    for k in range(1, len(data) + 1):
        assert kth_smallest(data, k) == sorted(data)[k - 1]


def test_duplicates():
    data = [5, 3, 5, 1, 3, 5]
    assert [kth_smallest(data, k) for k in range(1, 7)] == sorted(data)


def test_input_not_modified():
    data = [3, 1, 2]
    kth_smallest(data, 2)
    assert data == [3, 1, 2]


def test_bad_k():
    with pytest.raises(ValueError):
        kth_smallest([1, 2], 3)
