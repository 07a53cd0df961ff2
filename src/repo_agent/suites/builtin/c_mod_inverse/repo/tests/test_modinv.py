import pytest

from modinv import mod_divide, mod_inverse


def test_small_inverse():
    assert mod_inverse(3, 7) == 5
    assert mod_inverse(2, 11) == 6


def test_all_inverses_mod_13():
    for a in range(1, 13):
        assert a * mod_inverse(a, 13) % 13 == 1


def test_large_prime():
    p = 1_000_000_007
    assert 123456789 * mod_inverse(123456789, p) % p == 1


def test_divide():
    assert mod_divide(6, 3, 101) == 2
    assert mod_divide(1, 2, 7) == 4


def test_zero_has_no_inverse():
    with pytest.raises(ZeroDivisionError):
        mod_inverse(14, 7)
