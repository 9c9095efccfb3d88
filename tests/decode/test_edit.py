"""Edit distances and the alignment against the plain dynamic programme."""
import random

import numpy as np

from zoo.decode import edit


def plain(a, b):
    rows = [[i + j if i == 0 or j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return rows[-1][-1]


def random_words(rng, count, alphabet="abcd"):
    return ["".join(rng.choices(alphabet, k=rng.randint(0, 9))) for _ in range(count)]


def test_known_distances():
    assert edit.distance("kitten", "sitting") == 3
    assert edit.distance("", "abc") == 3
    assert edit.distance("flaw", "lawn") == 2


def test_within_finds_exactly_the_words_within_delta():
    rng = random.Random(4)
    words = ["".join(rng.choices("abcdefg", k=rng.randint(1, 9))) for _ in range(3000)]
    queries = ["", "a", "abc", "gfedcba", "abcdefgabc", "xyz"]
    for delta in (0, 1, 3):
        found = edit.within(queries, words, delta, chunk=4)  # chunks smaller than the queries
        for query, indices in zip(queries, found):
            expected = [i for i, w in enumerate(words) if plain(query, w) <= delta]
            np.testing.assert_array_equal(indices, expected)
    assert len(edit.within(["abc"], words, 0)[0]) == words.count("abc")


def test_alignment_explains_the_distance():
    rng = random.Random(1)
    for truth, predicted in zip(random_words(rng, 200), random_words(rng, 200)):
        ops = edit.alignment(truth, predicted)
        assert len(ops) == plain(truth, predicted)
    assert edit.alignment("house", "hoose") == [("u", "o")]
    assert edit.alignment("shop", "sho") == [("p", "")]
    assert edit.alignment("june", "jjune") == [("", "j")]
