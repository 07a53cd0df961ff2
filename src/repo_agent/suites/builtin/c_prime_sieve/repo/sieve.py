"""Sieve of Eratosthenes."""


def primes_up_to(n):
    """Return a sorted list of all primes p with 2 <= p <= n."""
    if n < 2:
        return []
    is_prime = [True] * (n + 1)
    is_prime[0] = is_prime[1] = False
    p = 2
    while p * p <= n:
        if is_prime[p]:
            for multiple in range(p * p, n, p):
                is_prime[multiple] = False
        p += 1
    return [i for i, flag in enumerate(is_prime) if flag]


def count_primes(n):
    """Return how many primes are <= n."""
    return len(primes_up_to(n))
