"""Caesar cipher helpers."""


def shift_char(ch, shift):
    """Shift one letter by `shift` places, keeping its case."""
    if ch.islower():
        base = ord("a")
    elif ch.isupper():
        base = ord("A")
    else:
        return ch
    return chr((ord(ch) - base + shift) % 26 + base)


def encrypt(text, shift):
    """Encrypt `text` with a Caesar shift; non-letters are kept."""
    return "".join(shift_char(ch, shift) for ch in text)


def decrypt(text, shift):
    """Undo encrypt() with the same shift."""
    return encrypt(text, -shift)
