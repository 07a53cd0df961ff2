from occurrence import count, first_index, last_index


def test_first_index():
    assert first_index([1, 2, 2, 2, 3], 2) == 1
    assert first_index([1, 2, 3], 4) == -1


def test_last_index_single():
    assert last_index([1, 2, 3], 3) == 2
    assert last_index([], 3) == -1


def test_last_index_duplicates():
    assert last_index([1, 2, 2, 2, 3], 2) == 3
    assert last_index([5, 5, 5], 5) == 2


def test_missing_value():
    assert last_index([1, 3, 5], 4) == -1
    assert count([1, 3, 5], 4) == 0


def test_count():
    assert count([0, 1, 1, 1, 1, 2], 1) == 4
    assert count([7], 7) == 1
