"""Lexicon decoding: exact CTC scores against brute-force alignment sums, order independence,
the BK-tree against a linear scan, and the trie beam search against exhaustive scoring."""
import itertools
import math
import random

import pytest
import torch

from zoo.decode import edit
from zoo.decode.lexicon import BKTree, Trie, choose, log_likelihoods, tie_key, trie_beam_search

CHARSET = "ab"


def brute_force(log_probs, word):
    """log p(word | y): the sum over every frame path that collapses to the word."""
    target = tuple(CHARSET.index(c) + 1 for c in word)
    scores = []
    for path in itertools.product(range(len(CHARSET) + 1), repeat=log_probs.shape[0]):
        collapsed, previous = [], None
        for c in path:
            if c != previous and c != 0:
                collapsed.append(c)
            previous = c
        if tuple(collapsed) == target:
            scores.append(sum(log_probs[t, c].item() for t, c in enumerate(path)))
    return torch.logsumexp(torch.tensor(scores + [-math.inf], dtype=torch.float64), 0).item()


WORDS = ["a", "b", "ab", "ba", "aa", "bb", "aba", "abba", "aab", "bbb", "abab", "aaaaaa"]


def test_scores_equal_the_sum_over_all_alignments():
    torch.manual_seed(0)
    log_probs = torch.randn(3, 5, 3, dtype=torch.float64).mul(2).log_softmax(-1)
    scores = log_likelihoods(log_probs, Trie.build(WORDS, CHARSET))
    assert scores.shape == (3, len(WORDS))
    for image in range(3):
        for column, word in enumerate(WORDS):
            expected = brute_force(log_probs[image], word)
            if expected == -math.inf:  # "aaaaaa" needs 11 frames (blanks between the repeats)
                assert scores[image, column] == -math.inf
            else:
                assert math.isclose(scores[image, column].item(), expected, rel_tol=1e-10)


def test_certain_blank_padding_and_small_groups_change_nothing():
    torch.manual_seed(1)
    log_probs = torch.randn(4, 5, 3, dtype=torch.float64).log_softmax(-1)
    trie = Trie.build(WORDS, CHARSET)
    pad = torch.full((4, 3, 3), -math.inf, dtype=torch.float64)
    pad[..., 0] = 0.0
    padded = torch.cat([log_probs, pad], 1)
    torch.testing.assert_close(log_likelihoods(padded, trie), log_likelihoods(log_probs, trie))
    torch.testing.assert_close(log_likelihoods(log_probs, trie, max_cells=1), log_likelihoods(log_probs, trie))


def test_subtrie_scores_match_the_full_trie():
    torch.manual_seed(2)
    log_probs = torch.randn(2, 6, 3, dtype=torch.float64).log_softmax(-1)
    trie = Trie.build(WORDS, CHARSET)
    picked = [7, 2, 9]
    sub = trie.subtrie(picked)
    assert sub.words == ["abba", "ab", "bbb"] and sub.num_nodes == 8  # root a ab abb abba b bb bbb
    torch.testing.assert_close(log_likelihoods(log_probs, sub), log_likelihoods(log_probs, trie)[:, picked])


def test_words_outside_the_charset_are_refused():
    with pytest.raises(ValueError, match="'c'"):
        Trie.build(["abc"], CHARSET)


def test_choice_does_not_depend_on_lexicon_order():
    torch.manual_seed(3)
    charset = "abcdefghij"
    rng = random.Random(0)
    words = sorted({"".join(rng.choices(charset, k=rng.randint(1, 6))) for _ in range(200)})
    log_probs = torch.randn(20, 12, 11).mul(3).log_softmax(-1)
    constant = torch.zeros(5, 12, 11).log_softmax(-1)  # uniform frames: many exact ties
    for frames in (log_probs, constant):
        choices = None
        for _ in range(4):
            rng.shuffle(words)
            trie = Trie.build(words, charset)
            picked = [w for w, _ in choose(log_likelihoods(frames, trie), trie)]
            assert choices is None or picked == choices
            choices = picked


def test_ties_go_to_the_smallest_hash_within_each_images_own_lexicon():
    trie = Trie.build(["ab", "ba", "aa", "bb"], CHARSET)
    scores = torch.tensor([[-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -3.0, -3.0]])
    allowed = torch.tensor([[True, True, True, True], [True, True, False, True]])
    first = min(trie.words, key=tie_key)
    second = min(["ab", "ba"], key=tie_key)
    assert [w for w, _ in choose(scores, trie, allowed)] == [first, second]
    with pytest.raises(ValueError, match="empty lexicon"):
        choose(scores, trie, torch.zeros_like(allowed))


def test_bktree_finds_exactly_the_words_within_delta():
    rng = random.Random(4)
    words = ["".join(rng.choices("abcdefg", k=rng.randint(1, 9))) for _ in range(3000)]
    tree = BKTree(words)
    for query in ["", "a", "abc", "gfedcba", "abcdefgabc", "xyz"]:
        for delta in (0, 1, 3):
            expected = [i for i, w in enumerate(tree.words) if edit.distance(query, w) <= delta]
            assert tree.query(query, delta) == expected


def test_bktree_edges_are_distances_to_the_parent():
    rng = random.Random(5)
    tree = BKTree(["".join(rng.choices("abc", k=rng.randint(1, 6))) for _ in range(500)])
    for parent in range(len(tree.words)):
        start, count = tree.child_start[parent], tree.child_count[parent]
        for child, edge in zip(tree.child_node[start:start + count], tree.child_edge[start:start + count]):
            assert edit.distance(tree.words[child], tree.words[parent]) == edge


def peaked_log_probs(word, charset, frames, generator):
    """Frames that spell ``word`` with noise, as a trained model's would."""
    logits = torch.randn(frames, len(charset) + 1, generator=generator) * 0.5
    positions = torch.linspace(1, frames - 2, len(word)).round().long()
    for position, char in zip(positions, word):
        logits[position, charset.index(char) + 1] += 6
    logits[:, 0] += 4
    return logits.log_softmax(-1)


def test_trie_beam_search_agrees_with_exhaustive_scoring():
    charset = "abcdefghij"
    rng = random.Random(6)
    words = sorted({"".join(rng.choices(charset, k=rng.randint(2, 7))) for _ in range(500)})
    trie = Trie.build(words, charset)
    generator = torch.Generator().manual_seed(6)
    targets = rng.sample(words, 10)
    log_probs = torch.stack([peaked_log_probs(w, charset, 20, generator) for w in targets])
    exact = choose(log_likelihoods(log_probs, trie), trie)
    for image, (word, score) in enumerate(exact):
        found, beam_score = trie_beam_search(log_probs[image], trie, beam_width=50)
        assert found == word
        assert beam_score <= score + 1e-5
    assert [w for w, _ in exact] == targets
