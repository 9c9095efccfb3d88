"""Edit distances: the vectorised pairs and the alignment against the plain dynamic programme."""
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


def test_pair_distances_match_the_plain_programme():
    rng = random.Random(0)
    a, b = random_words(rng, 300), random_words(rng, 300)
    a_codes, a_len = edit.encode_words(a, "abcd")
    b_codes, b_len = edit.encode_words(b, "abc")  # 'd' outside the alphabet never matches
    got = edit.pair_distances(a_codes, a_len, b_codes, b_len)
    np.testing.assert_array_equal(got, [plain(x, y) for x, y in zip(a, b)])
    one, one_len = edit.encode_words(["abca"], "abcd")
    b_codes, b_len = edit.encode_words(b, "abcd")
    np.testing.assert_array_equal(edit.pair_distances(one, one_len, b_codes, b_len), [plain("abca", y) for y in b])


def test_alignment_explains_the_distance():
    rng = random.Random(1)
    for truth, predicted in zip(random_words(rng, 200), random_words(rng, 200)):
        ops = edit.alignment(truth, predicted)
        assert len(ops) == plain(truth, predicted)
    assert edit.alignment("house", "hoose") == [("u", "o")]
    assert edit.alignment("shop", "sho") == [("p", "")]
    assert edit.alignment("june", "jjune") in ([("", "j")],)
