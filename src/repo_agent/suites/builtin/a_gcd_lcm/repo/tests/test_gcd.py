from numtheory import gcd, lcm, lcm_all


def test_gcd():
    assert gcd(12, 18) == 6
    assert gcd(-8, 12) == 4
    assert gcd(0, 5) == 5


def test_lcm_pair():
    assert lcm(4, 6) == 12
    assert lcm(0, 3) == 0


def test_lcm_all():
    assert lcm_all([4, 6]) == 12
    assert lcm_all([2, 3, 4, 5]) == 60
    assert lcm_all([7]) == 7


def test_lcm_all_empty():
    assert lcm_all([]) == 1
