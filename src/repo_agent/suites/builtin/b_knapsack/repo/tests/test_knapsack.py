from knapsack import best_value


def test_no_items():
    assert best_value([], 10) == 0


def test_item_too_heavy():
    assert best_value([(5, 10)], 4) == 0


def test_single_item_used_once():
    assert best_value([(2, 3)], 6) == 3


def test_classic_instance():
    items = [(1, 1), (3, 4), (4, 5), (5, 7)]
    assert best_value(items, 7) == 9


def test_zero_capacity():
    assert best_value([(1, 5)], 0) == 0
