"""Lexicon-free CTC decoding: best path and prefix beam search.

Class 0 is the blank; class i >= 1 is ``charset[i - 1]``.
"""
from __future__ import annotations

import heapq
import math
from typing import Callable, Hashable, Iterable

import torch


def greedy_decode(logits: torch.Tensor, charset: str, blank: int = 0) -> list[str]:
    """Best path (CRNN's lexicon-free transcription): argmax per frame, collapse repeats, drop blanks.

    ``logits``: (batch, frames, classes), as a ``Recognizer`` returns them.
    """
    best = logits.argmax(-1)
    keep = best != blank
    keep[:, 1:] &= best[:, 1:] != best[:, :-1]
    return ["".join(charset[i - 1] for i in row[mask].tolist()) for row, mask in zip(best, keep)]


Expand = Callable[[Hashable], Iterable[tuple[int, Hashable]]]


def prefix_beam_search(log_probs: torch.Tensor, beam_width: int, blank: int = 0, expand: Expand | None = None,
                       root: Hashable = ()) -> list[tuple[Hashable, float]]:
    """CTC prefix beam search over one image's (frames, classes) log-probabilities.

    Each beam is a *prefix* (a collapsed label sequence), carrying log p(prefix, path ends in
    blank) and log p(prefix, path ends in a label) summed over all surviving alignments; after
    every frame only the ``beam_width`` most probable prefixes are kept (Graves 2012, ch. 7;
    Hannun et al. 2014). ``expand(prefix)`` lists the allowed (class, longer prefix) extensions:
    by default every class, with prefixes as tuples of classes; a lexicon trie passes its node ids
    and children instead (``zoo.decode.lexicon.trie_beam_search``). Returns the final beams, most
    probable first, as (prefix, log-probability).
    """
    expand = expand or _extend_tuple(log_probs.shape[-1], blank)
    frames = log_probs.tolist()
    beams = {root: (0.0, -math.inf)}
    last_class: dict[Hashable, int | None] = {root: None}
    for y in frames:
        grown: dict[Hashable, list[float]] = {}
        for prefix, (p_blank, p_label) in beams.items():
            total = _logaddexp(p_blank, p_label)
            entry = grown.setdefault(prefix, [-math.inf, -math.inf])
            entry[0] = _logaddexp(entry[0], total + y[blank])
            last = last_class[prefix]
            if last is not None:  # the last label repeated without a blank collapses into it
                entry[1] = _logaddexp(entry[1], p_label + y[last])
            for cls, longer in expand(prefix):
                # a repeated label is a new character only after a blank
                source = p_blank if cls == last else total
                child = grown.setdefault(longer, [-math.inf, -math.inf])
                child[1] = _logaddexp(child[1], source + y[cls])
                last_class[longer] = cls
        alive = ((prefix, p) for prefix, p in grown.items() if max(p) > -math.inf)  # reachable prefixes only
        best = heapq.nlargest(beam_width, alive, key=lambda item: _logaddexp(*item[1]))
        beams = {prefix: tuple(p) for prefix, p in best}
    return [(prefix, _logaddexp(*p)) for prefix, p in sorted(beams.items(), key=lambda i: -_logaddexp(*i[1]))]


def _extend_tuple(num_classes: int, blank: int) -> Expand:
    classes = [c for c in range(num_classes) if c != blank]
    return lambda prefix: ((c, prefix + (c,)) for c in classes)


def _logaddexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    return a if b == -math.inf else a + math.log1p(math.exp(b - a))


def char_confidences(log_probs: torch.Tensor, labels: list[int], blank: int = 0) -> list[float]:
    """Per character of ``labels``: its highest probability over the frames that emit it in the most
    probable alignment (Viterbi) of ``labels`` to one image's (frames, classes) log-probabilities.

    For a greedy reading that alignment is the best path itself; for a beam or lexicon reading it is
    the best way the model can spell that word. Empty when ``labels`` cannot fit the frames.
    """
    if not labels:
        return []
    lp = log_probs.detach().float().cpu()
    states = [blank if s % 2 == 0 else labels[s // 2] for s in range(2 * len(labels) + 1)]
    emit = lp[:, states]                                    # (frames, states)
    # a state may come from itself, the one before, or skip a blank between two different characters
    skip = torch.tensor([s >= 2 and states[s] != blank and states[s] != states[s - 2] for s in range(len(states))])
    score = torch.full((len(states),), -math.inf)
    score[:2] = emit[0, :2]
    back = []
    for t in range(1, len(lp)):
        prev1 = torch.cat([torch.tensor([-math.inf]), score[:-1]])
        prev2 = torch.where(skip, torch.cat([torch.tensor([-math.inf, -math.inf]), score[:-2]]), -math.inf)
        best, step = torch.stack([score, prev1, prev2]).max(0)
        back.append(step)
        score = best + emit[t]
    end = len(states) - 1 if score[-1] >= score[-2] else len(states) - 2
    if not math.isfinite(score[end].item()):
        return []
    path = [end]
    for step in reversed(back):
        path.append(path[-1] - int(step[path[-1]]))
    path.reverse()
    best_prob = [0.0] * len(labels)
    for t, state in enumerate(path):
        if state % 2:
            best_prob[state // 2] = max(best_prob[state // 2], math.exp(lp[t, states[state]].item()))
    return best_prob
