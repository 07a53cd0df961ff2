from counting import counting_sort


def test_integers():
    assert counting_sort([3, 1, 2, 3, 0]) == [0, 1, 2, 3, 3]
    assert counting_sort([]) == []


def test_negative_keys():
    assert counting_sort([-2, 5, -7, 0]) == [-7, -2, 0, 5]


def test_stable_by_key():
    people = [("ann", 30), ("bob", 25), ("cid", 30), ("dee", 25)]
    result = counting_sort(people, key=lambda p: p[1])
    assert result == [("bob", 25), ("dee", 25), ("ann", 30), ("cid", 30)]


def test_stable_all_equal():
    words = ["pear", "plum", "kiwi", "lime"]
    assert counting_sort(words, key=len) == words
