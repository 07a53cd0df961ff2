from sieve import count_primes, primes_up_to


def test_small():
    assert primes_up_to(1) == []
    assert primes_up_to(2) == [2]


def test_up_to_thirty():
    assert primes_up_to(30) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]


def test_composite_limit():
    assert primes_up_to(25)[-1] == 23
    assert 49 not in primes_up_to(49)


def test_count():
    assert count_primes(100) == 25
    assert count_primes(121) == 30
