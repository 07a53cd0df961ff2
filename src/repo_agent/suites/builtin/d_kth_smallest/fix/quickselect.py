"""Selection of order statistics using quickselect."""


def _partition(a, lo, hi):
    """Lomuto partition of a[lo..hi] around a[hi]; return the pivot index."""
    pivot = a[hi]
    i = lo
    for j in range(lo, hi):
        if a[j] < pivot:
            a[i], a[j] = a[j], a[i]
            i += 1
    a[i], a[hi] = a[hi], a[i]
    return i


def kth_smallest(nums, k):
    """Return the k-th smallest element of nums (k is 1-based).

    The input list is not modified.
    """
    if not 1 <= k <= len(nums):
        raise ValueError("k out of range")
    a = list(nums)
    lo, hi = 0, len(a) - 1
    target = k - 1
    while True:
        p = _partition(a, lo, hi)
        if p == target:
            return a[p]
        if target < p:
            hi = p - 1
        else:
            lo = p + 1
