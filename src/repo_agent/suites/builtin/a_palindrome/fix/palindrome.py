"""Palindrome checks that ignore case and punctuation."""


def normalize(text):
    """Return the lowercase letters and digits of text, in order."""
    return [ch.lower() for ch in text if ch.isalnum()]


def is_palindrome(text):
    """Return True if text reads the same both ways (letters and digits only)."""
    chars = normalize(text)
    i, j = 0, len(chars) - 1
    while i < j:
        if chars[i] != chars[j]:
            return False
        i += 1
        j -= 1
    return True
