"""Top-down merge sort built on a merge helper."""
from merge_step import merge


def merge_sort(items):
    """Return a new list with the items in ascending order."""
    if len(items) <= 1:
        return list(items)
    mid = len(items) // 2
    return merge(merge_sort(items[:mid]), merge_sort(items[mid:]))


def merge_all(lists):
    """Merge several already-sorted lists into one sorted list."""
    result = []
    for lst in lists:
        result = merge(result, lst)
    return result
