"""Modular arithmetic over a prime modulus."""

from fastpow import pow_mod


def mod_inverse(a, p):
    """Return x with a * x % p == 1, for prime p (Fermat's little theorem)."""
    if a % p == 0:
        raise ZeroDivisionError(f"{a} has no inverse modulo {p}")
    return pow_mod(a, p - 2, p)


def mod_divide(a, b, p):
    """Return a / b in arithmetic modulo the prime p."""
    return a * mod_inverse(b, p) % p
