from rotated import search_rotated


def test_not_rotated():
    assert search_rotated([1, 2, 3, 4, 5], 4) == 3
    assert search_rotated([], 1) == -1


def test_two_items():
    assert search_rotated([3, 1], 1) == 1
    assert search_rotated([3, 1], 3) == 0


def test_all_rotations():
    base = [2, 4, 6, 8, 10, 12, 14]
    for r in range(len(base)):
        items = base[r:] + base[:r]
        for i, value in enumerate(items):
            assert search_rotated(items, value) == i


def test_missing():
    items = [9, 11, 1, 3, 5]
    for value in (0, 2, 10, 12):
        assert search_rotated(items, value) == -1
