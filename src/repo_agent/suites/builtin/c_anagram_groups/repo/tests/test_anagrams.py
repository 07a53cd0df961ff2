from anagrams import are_anagrams, group_anagrams


def test_basic_groups():
    words = ["listen", "google", "silent", "enlist"]
    assert group_anagrams(words) == [["listen", "silent", "enlist"], ["google"]]


def test_ignores_case_and_spaces():
    assert are_anagrams("Dormitory", "dirty room!")


def test_letter_counts_matter():
    assert group_anagrams(["ab", "aab", "ba"]) == [["ab", "ba"], ["aab"]]
    assert not are_anagrams("sees", "ses")


def test_empty():
    assert group_anagrams([]) == []
