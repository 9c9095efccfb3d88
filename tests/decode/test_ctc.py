"""Best path and prefix beam search against hand-worked and brute-force answers."""
import itertools
import math

import torch

from zoo.decode.ctc import greedy_decode, prefix_beam_search


def collapse(path):
    out, previous = [], None
    for c in path:
        if c != previous and c != 0:
            out.append(c)
        previous = c
    return tuple(out)


def labelling_log_probs(log_probs):
    """log p(labelling | y) for every labelling, by summing over all |classes|^frames paths."""
    totals = {}
    for path in itertools.product(range(log_probs.shape[1]), repeat=log_probs.shape[0]):
        score = sum(log_probs[t, c].item() for t, c in enumerate(path))
        key = collapse(path)
        totals[key] = torch.logaddexp(torch.tensor(totals.get(key, -math.inf), dtype=torch.float64),
                                      torch.tensor(score, dtype=torch.float64)).item()
    return totals


def test_greedy_collapses_repeats_and_drops_blanks():
    charset = "ab"
    path = [1, 1, 0, 1, 2, 2, 0, 0, 2]  # a a - a b b - - b -> "aabb"
    logits = torch.nn.functional.one_hot(torch.tensor([path]), 3).float()
    assert greedy_decode(logits, charset) == ["aabb"]


def test_beam_finds_the_most_probable_labelling_not_the_best_path():
    # two frames, p(blank) = 0.6, p(a) = 0.4: best path "" has 0.36, but "a" has 0.16 + 2 * 0.24 = 0.64
    logits = torch.tensor([[[0.6, 0.4], [0.6, 0.4]]]).log()
    assert greedy_decode(logits, "a") == [""]
    (prefix, score), _ = prefix_beam_search(logits[0], 4)[:2]
    assert prefix == (1,) and math.isclose(score, math.log(0.64), rel_tol=1e-6)


def test_unpruned_beam_equals_brute_force_enumeration():
    torch.manual_seed(3)
    log_probs = torch.randn(5, 3, dtype=torch.float64).mul(2).log_softmax(-1)
    truth = labelling_log_probs(log_probs)
    beams = prefix_beam_search(log_probs, beam_width=1000)
    assert len(beams) == len(truth)
    for prefix, score in beams:
        assert math.isclose(score, truth[prefix], rel_tol=1e-9)
    assert beams[0][0] == max(truth, key=truth.get)
