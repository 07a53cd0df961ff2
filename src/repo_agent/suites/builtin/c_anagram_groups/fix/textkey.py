"""Canonical keys for comparing words."""


def letters_only(word):
    """Return the lowercase letters of `word`, dropping everything else."""
    return [ch for ch in word.lower() if ch.isalpha()]


def signature(word):
    """Return a key shared by exactly the anagrams of `word`.

    Case, spaces and punctuation are ignored.
    """
    return "".join(sorted(letters_only(word)))
