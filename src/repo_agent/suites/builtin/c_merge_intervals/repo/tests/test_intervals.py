from intervals import merge_intervals, total_length


def test_empty():
    assert merge_intervals([]) == []


def test_disjoint_are_sorted():
    assert merge_intervals([(5, 6), (1, 2)]) == [(1, 2), (5, 6)]


def test_overlapping_and_touching():
    assert merge_intervals([(1, 3), (2, 6), (6, 8)]) == [(1, 8)]


def test_nested_interval():
    assert merge_intervals([(1, 10), (2, 3)]) == [(1, 10)]
    assert merge_intervals([(0, 5), (1, 2), (4, 7)]) == [(0, 7)]


def test_total_length():
    assert total_length([(0, 4), (1, 2), (10, 12)]) == 6
