"""Stable counting sort for small integer keys."""


def counting_sort(items, key=lambda x: x):
    """Return items sorted by the integer key(item); equal keys keep order."""
    if not items:
        return []
    keys = [key(x) for x in items]
    low = min(keys)
    counts = [0] * (max(keys) - low + 1)
    for k in keys:
        counts[k - low] += 1
    for i in range(1, len(counts)):
        counts[i] += counts[i - 1]
    out = [None] * len(items)
    for x, k in zip(items, keys):
        counts[k - low] -= 1
        out[counts[k - low]] = x
    return out
