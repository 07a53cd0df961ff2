"""Counting queries over a sorted list."""
from bounds import lower_bound, upper_bound


def count_in_range(items, low, high):
    """Return how many values v in sorted items satisfy low <= v <= high."""
    if low > high:
        return 0
    return upper_bound(items, high) - lower_bound(items, low)


def count_equal(items, value):
    """Return how many times value occurs in the sorted list items."""
    return count_in_range(items, value, value)
