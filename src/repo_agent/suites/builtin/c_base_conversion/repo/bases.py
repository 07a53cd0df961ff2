"""Integer <-> string conversion in bases 2..36."""

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def to_base(n, base):
    """Return the representation of integer `n` in `base`."""
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    n = abs(n)
    digits = []
    while n:
        n, rem = divmod(n, base)
        digits.append(DIGITS[rem])
    return sign + "".join(digits)


def from_base(text, base):
    """Parse `text` written in `base` back into an int."""
    text = text.strip().lower()
    sign = -1 if text.startswith("-") else 1
    value = 0
    for ch in text.lstrip("-"):
        value = value * base + DIGITS.index(ch)
    return sign * value
