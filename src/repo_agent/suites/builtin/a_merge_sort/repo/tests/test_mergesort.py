from mergesort import merge_all, merge_sort


def test_trivial():
    assert merge_sort([]) == []
    assert merge_sort([3]) == [3]


def test_two_items():
    assert merge_sort([2, 1]) == [1, 2]
    assert merge_sort([1, 2]) == [1, 2]


def test_longer():
    data = [9, 3, 7, 1, 8, 2, 2, 6, 0]
    assert merge_sort(data) == sorted(data)


def test_merge_all():
    assert merge_all([[1, 4], [2, 3, 9], [], [0]]) == [0, 1, 2, 3, 4, 9]
