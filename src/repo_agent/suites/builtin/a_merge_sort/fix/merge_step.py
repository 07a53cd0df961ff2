"""Merge step shared by the sorting routines."""


def merge(left, right):
    """Merge two sorted lists into one sorted list (stable)."""
    result = []
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            result.append(left[i])
            i += 1
        else:
            result.append(right[j])
            j += 1
    result.extend(left[i:])
    result.extend(right[j:])
    return result
