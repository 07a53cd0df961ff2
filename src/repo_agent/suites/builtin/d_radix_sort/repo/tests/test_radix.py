import pytest

from radix import radix_sort


def test_empty():
    assert radix_sort([]) == []


def test_single_digit():
    assert radix_sort([3, 1, 2, 0]) == [0, 1, 2, 3]


def test_multi_digit():
    data = [170, 45, 75, 90, 802, 24, 2, 66]
    assert radix_sort(data) == sorted(data)


def test_mixed_lengths_and_duplicates():
    data = [5, 1000, 5, 99, 100, 0, 10]
    assert radix_sort(data) == sorted(data)


def test_negative_rejected():
    with pytest.raises(ValueError):
        radix_sort([3, -1])
