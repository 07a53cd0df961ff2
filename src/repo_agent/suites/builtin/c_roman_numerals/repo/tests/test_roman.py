from roman import from_roman, to_roman


def test_to_roman():
    assert to_roman(1994) == "MCMXCIV"
    assert to_roman(8) == "VIII"


def test_from_roman_subtractive():
    assert from_roman("IV") == 4
    assert from_roman("XC") == 90


def test_from_roman_repeated():
    assert from_roman("III") == 3
    assert from_roman("MMXX") == 2020


def test_round_trip():
    for n in (1, 4, 9, 14, 40, 444, 1999, 3888):
        assert from_roman(to_roman(n)) == n
