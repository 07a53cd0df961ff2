"""Binary-search bounds in the style of the bisect module."""


def lower_bound(items, x):
    """Return the first index i such that items[i] >= x."""
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def upper_bound(items, x):
    """Return the first index i such that items[i] > x."""
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo
