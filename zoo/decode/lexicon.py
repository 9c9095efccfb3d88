"""Lexicon-based CTC decoding (CRNN, Shi et al. 2015, sec. 2.4): choose the lexicon word l that
maximises p(l | y), the sum over every CTC alignment of l with the frames y.

- ``log_likelihoods``: log p(l | y) exactly, for every word of a lexicon and every image at once.
  The words are laid out as a trie and the CTC forward algorithm (Graves et al. 2006, eq. 6-7)
  runs over all trie nodes of all images together, one vectorised step per frame: a word's
  forward variables depend only on its prefix's, so shared prefixes are computed once.
  Per-image lexicons (IC03's 50 words) are scored as one trie of their union, then masked.
- ``choose``: the best-scoring allowed word, with ties broken by a fixed hash of the word, never
  by its position (the IC03 lexicon lists the ground truth first).
- ``BKTree``: the words within edit distance delta of the lexicon-free output, CRNN's search space
  for large lexicons (its eq. 16), then scored exactly.
- ``trie_beam_search``: prefix beam search whose prefixes must stay in the lexicon's trie, a whole
  -lexicon search that never enumerates the words.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from zoo.decode import edit
from zoo.decode.ctc import prefix_beam_search

# log-likelihoods closer than this (in nats) are a tie, broken by the word's hash
TIE_TOLERANCE = 1e-5
NO_WORD = torch.iinfo(torch.int64).max  # a tie key above every word's


@dataclass(eq=False)
class Trie:
    """A lexicon as a prefix tree over class indices, nodes numbered breadth-first (so by depth).
    Node 0 is the root (the empty prefix); ``parent[n]`` is -1 for the root; ``label[n]`` the class
    node n appends; ``depth[n]`` its prefix length; ``word_node[w]`` the node spelling ``words[w]``."""
    words: list[str]
    parent: torch.Tensor
    label: torch.Tensor
    depth: torch.Tensor
    word_node: torch.Tensor
    _children: list[dict[int, int]] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, words: Sequence[str], charset: str) -> "Trie":
        """The trie of the distinct ``words``; every character must be in ``charset`` (class i >= 1
        is ``charset[i - 1]``), since the model can emit no other."""
        classes = {c: i + 1 for i, c in enumerate(charset)}
        words = list(dict.fromkeys(words))
        children: list[dict[int, int]] = [{}]
        word_node = []
        for word in words:
            if not word:
                raise ValueError("a lexicon word is empty")
            node = 0
            for char in word:
                if char not in classes:
                    raise ValueError(f"lexicon word {word!r} has {char!r}, which the model's charset "
                                     f"{charset!r} cannot emit")
                node = children[node].setdefault(classes[char], len(children))
                if node == len(children):
                    children.append({})
            word_node.append(node)
        order = [0]  # breadth-first: parents before children, depths ascending
        parent, label, depth = [-1], [0], [0]
        for position, node in enumerate(order):
            for cls_, child in children[node].items():
                order.append(child)
                parent.append(position)
                label.append(cls_)
                depth.append(depth[position] + 1)
        renumber = torch.empty(len(order), dtype=torch.long)
        renumber[torch.tensor(order)] = torch.arange(len(order))
        return cls(words, torch.tensor(parent), torch.tensor(label), torch.tensor(depth),
                   renumber[torch.tensor(word_node, dtype=torch.long)])

    @property
    def num_nodes(self) -> int:
        return len(self.parent)

    @property
    def children(self) -> list[dict[int, int]]:
        """children[n]: {class: child node}, for beam search."""
        if self._children is None:
            self._children = [{} for _ in range(self.num_nodes)]
            for node, (up, cls_) in enumerate(zip(self.parent.tolist()[1:], self.label.tolist()[1:]), 1):
                self._children[up][cls_] = node
        return self._children

    def subtrie(self, word_indices: Sequence[int]) -> "Trie":
        """The trie of ``words[i] for i in word_indices``, cut out of this one without re-spelling
        (node order, hence depth order, is kept)."""
        indices = torch.as_tensor(list(word_indices), dtype=torch.long)
        keep = torch.zeros(self.num_nodes, dtype=torch.bool)
        keep[0] = True
        frontier = self.word_node[indices]
        while frontier.numel():
            frontier = frontier[~keep[frontier]].unique()
            keep[frontier] = True
            frontier = self.parent[frontier]
        new_id = keep.cumsum(0) - 1
        old_parent = self.parent[keep]
        parent = torch.where(old_parent >= 0, new_id[old_parent.clamp(min=0)], -1)
        return Trie([self.words[i] for i in indices.tolist()], parent, self.label[keep], self.depth[keep],
                    new_id[self.word_node[indices]])

    def tie_keys(self) -> torch.Tensor:
        return torch.tensor([tie_key(w) for w in self.words], dtype=torch.long)


def tie_key(word: str) -> int:
    """An order-free tie-breaker: a fixed hash of the word (CRC-32, stable across runs)."""
    return zlib.crc32(word.encode("utf-8"))


@torch.inference_mode()
def log_likelihoods(log_probs: torch.Tensor, trie: Trie, max_cells: int = 2_000_000) -> torch.Tensor:
    """log p(word | frames) for every word of ``trie`` and every image, exactly: (batch, words).

    ``log_probs``: (batch, frames, classes) log-softmax outputs, blank = class 0. Images of
    different lengths are padded with frames where the blank is certain (log-prob 0 for class 0,
    -inf elsewhere), which leave every word's probability unchanged. Images are processed in
    groups of at most ``max_cells`` (node, image) pairs to bound memory.
    """
    group = max(1, max_cells // (3 * (trie.num_nodes + 1)))
    return torch.cat([_trie_forward(chunk, trie)[trie.word_node].T for chunk in log_probs.split(group)])


def _trie_forward(log_probs: torch.Tensor, trie: Trie) -> torch.Tensor:
    """log p(prefix | y) of every trie node after the last frame: (nodes, batch).

    Per node n (prefix l, last label c = label[n], parent n' spelling l minus c), two variables:
    alpha_blank (alignments of l ending in a blank) and alpha_label (ending in c). One frame:
        alpha_blank(n) <- [alpha_blank(n) + alpha_label(n)] * y_blank
        alpha_label(n) <- [alpha_label(n) + alpha_blank(n') + (alpha_label(n') if c != c')] * y_c
    i.e. Graves et al.'s recursion (eq. 6-7) for the two states of l's last label, read off the
    trie. Layout is node-major (nodes, batch) so that reading a parent copies one contiguous row;
    nodes are in depth order, so frame t updates only the nodes of depth <= t + 1 (deeper ones
    cannot have been reached yet).
    """
    batch, frames, _ = log_probs.shape
    nodes = trie.num_nodes
    # row `nodes` is a sentinel parent for the root, always -inf: the root never gains a label
    parent = torch.where(trie.parent >= 0, trie.parent, nodes)
    repeat = trie.label == torch.cat([trie.label, torch.zeros(1, dtype=trie.label.dtype)])[parent]
    # from the parent: alpha_blank if the label repeats the parent's (CTC needs a blank between),
    # otherwise the parent's total; both live in `state`, read through one flat index
    source = parent + (nodes + 1) * (~repeat).long()
    state = torch.full((2, nodes + 1, batch), -torch.inf, dtype=log_probs.dtype)
    alpha_blank, total = state[0], state[1]
    alpha_blank[0] = 0.0
    alpha_label = torch.full((nodes + 1, batch), -torch.inf, dtype=log_probs.dtype)
    reached = torch.searchsorted(trie.depth, torch.arange(frames) + 1, right=True).tolist()
    for y, n in zip(log_probs.permute(1, 2, 0).contiguous(), reached):
        torch.logaddexp(alpha_blank[:n], alpha_label[:n], out=total[:n])
        from_parent = state.view(-1, batch).index_select(0, source[:n])
        torch.logaddexp(alpha_label[:n], from_parent, out=alpha_label[:n])
        alpha_label[:n] += y.index_select(0, trie.label[:n])
        torch.add(total[:n], y[0], out=alpha_blank[:n])
    return torch.logaddexp(alpha_blank, alpha_label)[:nodes]


def choose(scores: torch.Tensor, trie: Trie, allowed: torch.Tensor | None = None) -> list[tuple[str, float]]:
    """Each image's best word of ``trie`` (among the ``allowed`` (batch, words) ones: an image's own
    lexicon) and its log-likelihood. Words within ``TIE_TOLERANCE`` of the best are tied and the
    one with the smallest ``tie_key`` wins, so a choice never depends on where a word sits in its
    lexicon."""
    allowed = torch.ones_like(scores, dtype=torch.bool) if allowed is None else allowed
    if not bool(allowed.any(1).all()):
        raise ValueError("an image has an empty lexicon")
    scores = scores.masked_fill(~allowed, -torch.inf)
    best = scores.max(1, keepdim=True).values
    tied = allowed & ((scores >= best - TIE_TOLERANCE) | (best == -torch.inf))
    keys = trie.tie_keys().expand_as(scores)
    pick = torch.where(tied, keys, NO_WORD).argmin(1)
    return [(trie.words[i], s) for i, s in zip(pick.tolist(), scores.gather(1, pick[:, None])[:, 0].tolist())]


class BKTree:
    """A Burkhard-Keller tree over a lexicon under edit distance: every child of a node sits on an
    edge labelled with its distance to the node, so by the triangle inequality a word within
    ``delta`` of a query can only lie under edges within ``delta`` of the query's own distance.

    Stored flat (node i = word i; children as contiguous slices) and built and searched one tree
    level at a time, so each level's distances are one vectorised call. Building level by level
    gives exactly the tree of inserting the words one by one in order.
    """

    def __init__(self, words: Sequence[str]):
        self.words = list(dict.fromkeys(words))
        if not self.words:
            raise ValueError("a BK-tree needs at least one word")
        self.alphabet = "".join(sorted(set("".join(self.words))))
        self.codes, self.lengths = edit.encode_words(self.words, self.alphabet)
        parent = np.full(len(self.words), -1)
        edge = np.zeros(len(self.words), dtype=np.int64)
        pending = np.arange(1, len(self.words))
        anchor = np.zeros(len(pending), dtype=np.int64)  # the node each pending word descends from
        while pending.size:
            d = edit.pair_distances(self.codes[pending], self.lengths[pending], self.codes[anchor], self.lengths[anchor])
            slots, first, slot_of = np.unique(anchor * (d.max() + 1) + d, return_index=True, return_inverse=True)
            # the first (lowest-index) word reaching an empty slot fills it; the rest descend into it
            child = pending[first]
            parent[child], edge[child] = anchor[first], d[first]
            anchor = child[slot_of]
            moving = pending != anchor
            pending, anchor = pending[moving], anchor[moving]
        by_parent = np.argsort(parent[1:], kind="stable") + 1
        self.child_node, self.child_edge = by_parent, edge[by_parent]
        self.child_count = np.bincount(parent[1:], minlength=len(self.words))
        self.child_start = np.cumsum(self.child_count) - self.child_count

    def query(self, word: str, delta: int) -> list[int]:
        """Indices of every word within edit distance ``delta`` of ``word``, ascending."""
        codes, length = edit.encode_words([word], self.alphabet)
        frontier = np.array([0])
        dist = edit.pair_distances(codes, length, self.codes[:1], self.lengths[:1])
        found = [frontier[dist <= delta]]
        while frontier.size:
            counts = self.child_count[frontier]
            owner = np.repeat(np.arange(frontier.size), counts)
            slot = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            edges = np.repeat(self.child_start[frontier], counts) + slot
            near = np.abs(self.child_edge[edges] - dist[owner]) <= delta
            frontier = self.child_node[edges[near]]
            lengths = self.lengths[frontier]
            dist = edit.pair_distances(codes, length, self.codes[frontier, :lengths.max(initial=1)], lengths)
            found.append(frontier[dist <= delta])
        return sorted(np.concatenate(found).tolist())


def trie_beam_search(log_probs: torch.Tensor, trie: Trie, beam_width: int = 10) -> tuple[str, float] | None:
    """Prefix beam search over one image's (frames, classes) log-probs, extending prefixes only
    along the trie. Returns the most probable complete word among the final beams and its
    log-probability over the alignments the beam kept (a lower bound of log p(word | y)), or None
    when no final beam is a complete word."""
    children = trie.children
    terminal = dict(zip(trie.word_node.tolist(), trie.words))
    beams = prefix_beam_search(log_probs, beam_width, expand=lambda node: children[node].items(), root=0)
    return next(((terminal[node], score) for node, score in beams if node in terminal), None)
