from bases import from_base, to_base


def test_zero_and_single_digit():
    assert to_base(0, 2) == "0"
    assert to_base(7, 8) == "7"


def test_binary_and_hex():
    assert to_base(6, 2) == "110"
    assert to_base(255, 16) == "ff"
    assert to_base(4096, 16) == "1000"


def test_negative():
    assert to_base(-10, 3) == "-101"


def test_from_base():
    assert from_base("FF", 16) == 255
    assert from_base("-z", 36) == -35


def test_round_trip():
    for base in (2, 7, 10, 36):
        for n in (1, 12, 999, -123456):
            assert from_base(to_base(n, base), base) == n
