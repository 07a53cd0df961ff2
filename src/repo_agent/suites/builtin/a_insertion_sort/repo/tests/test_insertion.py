from insertion import insertion_sort, is_sorted


def test_empty_and_single():
    assert insertion_sort([]) == []
    assert insertion_sort([7]) == [7]


def test_already_sorted():
    assert insertion_sort([1, 2, 3, 4]) == [1, 2, 3, 4]


def test_min_at_end():
    assert insertion_sort([3, 1, 2]) == [1, 2, 3]
    assert insertion_sort([5, 4, 3, 2, 1]) == [1, 2, 3, 4, 5]


def test_duplicates_and_negatives():
    data = [4, -1, 4, 0, -7, 2, 2]
    assert insertion_sort(list(data)) == sorted(data)


def test_is_sorted():
    assert is_sorted([1, 1, 2])
    assert not is_sorted([2, 1])
