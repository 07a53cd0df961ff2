from brackets import is_balanced


def test_empty_string():
    assert is_balanced("")


def test_nested():
    assert is_balanced("{[()()]}")
    assert is_balanced("f(a[0], {b: 1})")


def test_wrong_order():
    assert not is_balanced("([)]")
    assert not is_balanced(")(")


def test_unclosed():
    assert not is_balanced("((")
    assert not is_balanced("[{}")
