"""Peak finding in lists by binary search."""


def find_peak(values):
    """Return the index of a peak element of values.

    A peak is an element strictly greater than its neighbours; positions
    outside the list count as negative infinity. Adjacent elements are
    assumed to be distinct.
    """
    if not values:
        raise ValueError("empty list has no peak")
    lo, hi = 0, len(values) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < values[mid + 1]:
            lo = mid + 1
        else:
            hi = mid
    return lo


def is_peak(values, i):
    """Return True if values[i] is greater than both of its neighbours."""
    left = values[i - 1] if i > 0 else float("-inf")
    right = values[i + 1] if i + 1 < len(values) else float("-inf")
    return values[i] > left and values[i] > right
