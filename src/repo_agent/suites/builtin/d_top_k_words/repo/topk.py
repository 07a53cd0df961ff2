"""Most frequent words in a text."""
from collections import Counter

from minheap import MinHeap


def top_k_frequent(words, k):
    """Return the k most common words as (word, count) pairs.

    Pairs are ordered by count descending, ties broken alphabetically.
    """
    heap = MinHeap()
    for word, count in Counter(words).items():
        heap.push((-count, word))
    result = []
    while heap and len(result) < k:
        neg_count, word = heap.pop()
        result.append((word, -neg_count))
    return result


def top_k_from_text(text, k):
    """Like top_k_frequent, for a whitespace-separated, case-folded text."""
    return top_k_frequent(text.lower().split(), k)
