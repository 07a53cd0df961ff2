from luhn import check_digit, is_valid


def test_known_valid_numbers():
    assert is_valid("79927398713")
    assert is_valid("4539 3195 0343 6467")


def test_known_invalid_numbers():
    assert not is_valid("79927398710")
    assert not is_valid("8273 1232 7352 0569")


def test_rejects_bad_input():
    assert not is_valid("0")
    assert not is_valid("12a4")


def test_check_digit():
    assert check_digit("7992739871") == 3
    assert is_valid("453201511283036" + str(check_digit("453201511283036")))
