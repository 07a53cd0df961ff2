from lis import lis_length


def test_empty_and_single():
    assert lis_length([]) == 0
    assert lis_length([42]) == 1


def test_classic_example():
    assert lis_length([10, 9, 2, 5, 3, 7, 101, 18]) == 4


def test_decreasing():
    assert lis_length([5, 4, 3, 2, 1]) == 1


def test_repeated_values():
    assert lis_length([2, 2, 2]) == 1
    assert lis_length([1, 3, 3, 5, 5, 6]) == 4
    assert lis_length([4, 10, 4, 3, 8, 9]) == 3
