from rle import rle_decode, rle_encode


def test_encode():
    assert rle_encode("") == ""
    assert rle_encode("aaabcc") == "3a1b2c"
    assert rle_encode("x" * 12) == "12x"


def test_decode_short_runs():
    assert rle_decode("3a1b2c") == "aaabcc"


def test_decode_long_runs():
    assert rle_decode("12a") == "a" * 12
    assert rle_decode("1x100y") == "x" + "y" * 100


def test_round_trip():
    text = "q" * 25 + "rr" + "s" * 10 + "t"
    assert rle_decode(rle_encode(text)) == text
