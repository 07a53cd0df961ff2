"""Locate the range of a value in a sorted list."""


def first_index(items, target):
    """Return the lowest index i with items[i] == target, or -1."""
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(items) and items[lo] == target else -1


def last_index(items, target):
    """Return the highest index i with items[i] == target, or -1."""
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    i = lo - 1
    return i if i >= 0 and items[i] == target else -1


def count(items, target):
    """Return how many times target occurs in the sorted list items."""
    first = first_index(items, target)
    if first == -1:
        return 0
    return last_index(items, target) - first + 1
