from sequences import lcs_length


def test_empty():
    assert lcs_length("", "abc") == 0


def test_identical():
    assert lcs_length("abc", "abc") == 3


def test_repeated_letter():
    assert lcs_length("aa", "a") == 1


def test_textbook_example():
    assert lcs_length("ABCBDAB", "BDCABA") == 4


def test_lists():
    assert lcs_length([1, 2, 3, 4], [2, 4, 4, 1]) == 2
