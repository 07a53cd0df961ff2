"""Group words that are anagrams of one another."""

from textkey import signature


def group_anagrams(words):
    """Return groups of anagrams, in order of first appearance.

    Words inside a group keep their input order.
    """
    groups = {}
    for word in words:
        groups.setdefault(signature(word), []).append(word)
    return list(groups.values())


def are_anagrams(first, second):
    """Return True if the two phrases are anagrams of each other."""
    return signature(first) == signature(second)
