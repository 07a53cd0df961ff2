"""Quicksort using the Lomuto partition scheme."""


def partition(a, lo, hi):
    """Partition a[lo..hi] around the pivot a[hi]; return its final index."""
    pivot = a[hi]
    i = lo
    for j in range(lo, hi):
        if a[j] < pivot:
            a[i], a[j] = a[j], a[i]
            i += 1
    a[i], a[hi] = a[hi], a[i]
    return i


def quicksort(a, lo=0, hi=None):
    """Sort the list a in place and return it."""
    if hi is None:
        hi = len(a) - 1
    if lo < hi:
        p = partition(a, lo, hi)
        quicksort(a, lo, p - 1)
        quicksort(a, p + 1, hi)
    return a
