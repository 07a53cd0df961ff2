"""Classic binary search over a sorted list."""


def binary_search(items, target):
    """Return an index of target in the sorted list items, or -1."""
    lo, hi = 0, len(items) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1


def contains(items, target):
    """Return True if target occurs in the sorted list items."""
    return binary_search(items, target) != -1
