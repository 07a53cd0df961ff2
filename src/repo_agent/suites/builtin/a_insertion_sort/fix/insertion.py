"""In-place insertion sort."""


def insertion_sort(items):
    """Sort the list in place in ascending order and return it."""
    for i in range(1, len(items)):
        key = items[i]
        j = i - 1
        while j >= 0 and items[j] > key:
            items[j + 1] = items[j]
            j -= 1
        items[j + 1] = key
    return items


def is_sorted(items):
    """Return True if items is in non-decreasing order."""
    return all(items[k] <= items[k + 1] for k in range(len(items) - 1))
