from zoo.data.vocabulary import english_words


def test_english_words_large_sorted_lowercase_unique():
    words = english_words()
    assert len(words) >= 50_000
    assert words == sorted(set(words))
    assert all(w.isascii() and w.isalpha() and w.islower() for w in words)
    for common in ("house", "street", "water", "recognition"):
        assert common in words
