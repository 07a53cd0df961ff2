import pytest

from peak import find_peak, is_peak


def test_single():
    assert find_peak([4]) == 0


def test_peak_in_middle():
    data = [1, 3, 8, 5, 2]
    assert find_peak(data) == 2


def test_peak_at_edges():
    assert find_peak([9, 4, 1]) == 0
    assert find_peak([1, 4, 9]) == 2


def test_result_is_peak():
    for data in ([2, 1, 3, 1], [1, 2, 1, 3, 5, 6, 4], [5, 10, 20, 15]):
        assert is_peak(data, find_peak(data))


def test_empty():
    with pytest.raises(ValueError):
        find_peak([])
