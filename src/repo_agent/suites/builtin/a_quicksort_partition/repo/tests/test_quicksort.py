from quicksort import partition, quicksort


def test_partition_invariant():
    a = [1, 5, 3]
    p = partition(a, 0, 2)
    assert a[p] == 3
    assert all(x < 3 for x in a[:p])
    assert all(x >= 3 for x in a[p + 1:])


def test_small():
    assert quicksort([]) == []
    assert quicksort([2, 1]) == [1, 2]
    assert quicksort([1, 5, 3]) == [1, 3, 5]


def test_mixed():
    data = [10, -2, 7, 7, 0, 3, 99, -50, 4]
    assert quicksort(list(data)) == sorted(data)


def test_subrange_only():
    a = [9, 8, 3, 1, 2, 0]
    quicksort(a, 2, 4)
    assert a == [9, 8, 1, 2, 3, 0]
