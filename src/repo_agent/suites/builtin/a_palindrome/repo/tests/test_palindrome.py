from palindrome import is_palindrome, normalize


def test_simple():
    assert is_palindrome("racecar")
    assert not is_palindrome("hello")
    assert is_palindrome("")


def test_case_and_punctuation():
    assert is_palindrome("A man, a plan, a canal: Panama!")


def test_digits_count():
    assert is_palindrome("12321")
    assert not is_palindrome("1a2")
    assert not is_palindrome("abc1cba2")


def test_normalize():
    assert normalize("Ab-1 c") == ["a", "b", "1", "c"]
