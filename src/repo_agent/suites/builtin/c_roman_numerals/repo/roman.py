"""Convert between integers and Roman numerals."""

PAIRS = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"),
    (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
    (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]
VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def to_roman(number):
    """Return the Roman numeral for 1 <= number <= 3999."""
    parts = []
    for value, symbol in PAIRS:
        count, number = divmod(number, value)
        parts.append(symbol * count)
    return "".join(parts)


def from_roman(numeral):
    """Return the integer value of a Roman numeral string."""
    total = 0
    for i, symbol in enumerate(numeral):
        value = VALUES[symbol]
        if i + 1 < len(numeral) and value <= VALUES[numeral[i + 1]]:
            total -= value
        else:
            total += value
    return total
