from bsearch import binary_search, contains


def test_empty():
    assert binary_search([], 3) == -1


def test_single():
    assert binary_search([4], 4) == 0
    assert binary_search([4], 5) == -1


def test_every_position():
    items = [1, 3, 5, 7, 9, 11]
    for i, value in enumerate(items):
        assert binary_search(items, value) == i


def test_missing():
    items = [1, 3, 5, 7]
    for value in (0, 2, 6, 8):
        assert not contains(items, value)
