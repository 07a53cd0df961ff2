from topk import top_k_frequent, top_k_from_text


def test_simple():
    assert top_k_frequent(["a", "b", "a"], 1) == [("a", 2)]


def test_ordering_by_count():
    words = ["a"] * 1 + ["b"] * 4 + ["c"] * 5 + ["d"] * 2 + ["e"] * 3
    assert top_k_frequent(words, 5) == [
        ("c", 5), ("b", 4), ("e", 3), ("d", 2), ("a", 1)]


def test_ties_alphabetical():
    words = "d c b a d c b d c e e e e".split()
    assert top_k_frequent(words, 3) == [("e", 4), ("c", 3), ("d", 3)]


def test_k_larger_than_vocabulary():
    assert top_k_frequent(["q", "q"], 10) == [("q", 2)]
    assert top_k_frequent([], 3) == []


def test_text():
    text = "the cat and the hat and THE bat"
    assert top_k_from_text(text, 2) == [("the", 3), ("and", 2)]
