"""Longest strictly increasing subsequence in O(n log n)."""

from bisect import bisect_left


def lis_length(values):
    """Return the length of the longest strictly increasing subsequence.

    tails[k] holds the smallest possible last value of an increasing
    subsequence of length k + 1 seen so far.
    """
    tails = []
    for value in values:
        pos = bisect_left(tails, value)
        if pos == len(tails):
            tails.append(value)
        else:
            tails[pos] = value
    return len(tails)
