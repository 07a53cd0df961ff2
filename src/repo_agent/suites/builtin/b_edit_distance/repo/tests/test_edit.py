from editing import edit_distance


def test_equal_strings():
    assert edit_distance("flow", "flow") == 0


def test_empty_inputs():
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "") == 3


def test_single_substitution():
    assert edit_distance("cat", "cut") == 1


def test_kitten_sitting():
    assert edit_distance("kitten", "sitting") == 3


def test_is_symmetric():
    assert edit_distance("sunday", "saturday") == edit_distance("saturday", "sunday") == 3
