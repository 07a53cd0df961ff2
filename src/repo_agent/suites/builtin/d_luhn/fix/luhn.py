"""Luhn (mod 10) checksum used by card and ID numbers."""


def luhn_sum(digits):
    """Return the Luhn sum of a string of decimal digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total


def is_valid(number):
    """Return True if number (spaces allowed) passes the Luhn check."""
    digits = number.replace(" ", "")
    if len(digits) < 2 or not digits.isdigit():
        return False
    return luhn_sum(digits) % 10 == 0


def check_digit(partial):
    """Return the digit that makes partial + digit a valid Luhn number."""
    return (10 - luhn_sum(partial + "0") % 10) % 10
