"""Integer square root using Newton's method."""


def isqrt(n):
    """Return the largest integer r with r * r <= n, for n >= 0."""
    if n < 0:
        raise ValueError("isqrt() argument must be non-negative")
    if n < 2:
        return n
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


def is_perfect_square(n):
    """Return True if n is the square of an integer."""
    if n < 0:
        return False
    r = isqrt(n)
    return r * r == n
