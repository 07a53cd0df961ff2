from ranges import count_equal, count_in_range

DATA = [1, 2, 2, 2, 5, 7, 7, 10]


def test_count_equal():
    assert count_equal(DATA, 2) == 3
    assert count_equal(DATA, 7) == 2
    assert count_equal(DATA, 4) == 0


def test_inclusive_range():
    assert count_in_range(DATA, 2, 7) == 6
    assert count_in_range(DATA, 0, 100) == len(DATA)


def test_empty_range():
    assert count_in_range(DATA, 8, 9) == 0
    assert count_in_range(DATA, 7, 2) == 0
    assert count_in_range([], 1, 5) == 0
