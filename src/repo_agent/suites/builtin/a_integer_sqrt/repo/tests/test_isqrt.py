import pytest

from intsqrt import is_perfect_square, isqrt


def test_small_values():
    expected = [0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3]
    assert [isqrt(n) for n in range(11)] == expected


def test_returns_int():
    assert type(isqrt(99)) is int


def test_large():
    r = 10**20 + 7
    assert isqrt(r * r) == r
    assert isqrt(r * r - 1) == r - 1
    assert isqrt(10**40) == 10**20


def test_perfect_square_and_errors():
    assert is_perfect_square(144) and not is_perfect_square(145)
    with pytest.raises(ValueError):
        isqrt(-1)
