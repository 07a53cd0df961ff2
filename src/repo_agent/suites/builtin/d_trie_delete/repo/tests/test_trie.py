from trie import Trie


def make(*words):
    t = Trie()
    for w in words:
        t.insert(w)
    return t


def test_insert_and_contains():
    t = make("car", "cart")
    assert t.contains("car") and t.contains("cart")
    assert not t.contains("ca") and t.starts_with("ca")


def test_delete_leaf_word():
    t = make("dog")
    t.delete("dog")
    assert not t.contains("dog") and not t.starts_with("d")


def test_delete_keeps_shorter_word():
    t = make("app", "apple")
    t.delete("apple")
    assert t.contains("app") and not t.contains("apple")


def test_delete_keeps_sibling_branch():
    t = make("tea", "ten")
    t.delete("tea")
    assert t.contains("ten") and not t.starts_with("tea")
