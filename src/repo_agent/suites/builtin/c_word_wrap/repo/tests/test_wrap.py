from wrap import fill, wrap


def test_empty():
    assert wrap("", 10) == []
    assert wrap("   ", 10) == []


def test_short_text_one_line():
    assert wrap("hello world", 20) == ["hello world"]


def test_exact_width_fits():
    assert wrap("hello world", 11) == ["hello world"]
    assert wrap("aa bb cc dd", 5) == ["aa bb", "cc dd"]


def test_long_word_alone():
    assert wrap("a extraordinary b", 6) == ["a", "extraordinary", "b"]


def test_fill():
    text = "the quick brown fox jumps over the lazy dog"
    assert fill(text, 10) == "the quick\nbrown fox\njumps over\nthe lazy\ndog"
