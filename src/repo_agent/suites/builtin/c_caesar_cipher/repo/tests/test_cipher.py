from cipher import decrypt, encrypt


def test_lowercase():
    assert encrypt("abc", 1) == "bcd"


def test_wraps_around():
    assert encrypt("xyz", 3) == "abc"


def test_uppercase_kept():
    assert encrypt("Hello, World!", 3) == "Khoor, Zruog!"


def test_round_trip():
    msg = "Attack at Dawn"
    assert decrypt(encrypt(msg, 11), 11) == msg


def test_negative_shift():
    assert encrypt("Abc", -1) == "Zab"
