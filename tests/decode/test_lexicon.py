"""Lexicon decoding: exact CTC scores against brute-force alignment sums, order independence,
per-image candidates against scoring every word, and the trie beam search against exhaustive scoring."""
import itertools
import math
import random

import numpy as np
import pytest
import torch

from zoo.decode.lexicon import Trie, choose, log_likelihoods, tie_key, trie_beam_search

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
    trie = Trie.build(WORDS, CHARSET)
    assert trie.words == sorted(WORDS)
    scores = torch.stack(log_likelihoods(log_probs, trie))
    assert scores.shape == (3, len(WORDS))
    for image in range(3):
        for column, word in enumerate(trie.words):
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
    every = torch.stack(log_likelihoods(log_probs, trie))
    torch.testing.assert_close(torch.stack(log_likelihoods(padded, trie)), every)
    torch.testing.assert_close(torch.stack(log_likelihoods(log_probs, trie, max_cells=1)), every)


def test_each_images_candidates_score_as_in_the_whole_lexicon():
    torch.manual_seed(2)
    log_probs = torch.randn(4, 6, 3, dtype=torch.float64).log_softmax(-1)
    trie = Trie.build(WORDS, CHARSET)
    every = torch.stack(log_likelihoods(log_probs, trie))
    candidates = [np.array([7, 2, 9]), np.array([11]), np.arange(len(WORDS)), np.array([3, 0])]
    for max_cells in (1, 10, 1000):  # one image per group, a few, all at once
        scores = log_likelihoods(log_probs, trie, candidates, max_cells=max_cells)
        for image, (words, score) in enumerate(zip(candidates, scores)):
            torch.testing.assert_close(score, every[image, words])
    assert log_likelihoods(log_probs[:0], trie, []) == []  # no image: nothing to score
    with pytest.raises(ValueError, match="3 candidate lists for 4 images"):
        log_likelihoods(log_probs, trie, candidates[:3])


def test_the_trie_holds_every_prefix_once_in_depth_order():
    rng = random.Random(6)
    words = ["".join(rng.choices("abc", k=rng.randint(1, 7))) for _ in range(400)]
    trie = Trie.build(words, "abc")
    spelled = [""]
    for node in range(1, trie.num_nodes):
        parent = int(trie.parent[node])
        assert parent < node and trie.depth[node] == trie.depth[parent] + 1
        spelled.append(spelled[parent] + "abc"[int(trie.label[node]) - 1])
    assert sorted(spelled) == sorted({w[:k] for w in words for k in range(len(w) + 1)})
    assert trie.words == sorted(set(words))
    assert [spelled[n] for n in trie.word_node.tolist()] == trie.words
    for word, path in zip(trie.words, trie.paths):
        assert [spelled[n] for n in path[:len(word)]] == [word[:k + 1] for k in range(len(word))]


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
    scores = [torch.tensor([-1.0, -1.0, -1.0, -1.0]), torch.tensor([-1.0, -1.0, -3.0])]
    assert trie.words == ["aa", "ab", "ba", "bb"]
    candidates = [np.arange(4), np.array([1, 2, 3])]  # image 1: ab, ba (tied at -1) and bb
    first = min(trie.words, key=tie_key)
    second = min(["ab", "ba"], key=tie_key)
    assert [w for w, _ in choose(scores, trie, candidates)] == [first, second]
    with pytest.raises(ValueError, match="image 1 has an empty lexicon"):
        choose([scores[0], torch.tensor([])], trie, [candidates[0], np.array([], dtype=np.int64)])


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
