"""LSD radix sort for non-negative integers."""


def _counting_pass(nums, exp):
    """Stable bucket pass on the decimal digit selected by exp."""
    buckets = [[] for _ in range(10)]
    for n in nums:
        buckets[(n // exp) % 10].append(n)
    return [n for bucket in buckets for n in bucket]


def radix_sort(nums):
    """Return a new list with the non-negative integers of nums sorted."""
    if any(n < 0 for n in nums):
        raise ValueError("radix_sort only supports non-negative integers")
    result = list(nums)
    if not result:
        return result
    largest = max(result)
    exp = 1
    while largest // exp > 0:
        result = _counting_pass(result, exp)
        exp *= 10
    return result
