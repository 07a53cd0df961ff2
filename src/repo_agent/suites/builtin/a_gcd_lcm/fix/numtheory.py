"""Greatest common divisor and least common multiple helpers."""


def gcd(a, b):
    """Return the non-negative greatest common divisor of a and b."""
    a, b = abs(a), abs(b)
    while b:
        a, b = b, a % b
    return a


def lcm(a, b):
    """Return the non-negative least common multiple of a and b."""
    if a == 0 or b == 0:
        return 0
    return abs(a * b) // gcd(a, b)


def lcm_all(numbers):
    """Return the least common multiple of all numbers (1 for no numbers)."""
    result = 1
    for n in numbers:
        result = lcm(result, n)
    return result
