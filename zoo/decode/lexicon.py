"""Lexicon-based CTC decoding (CRNN, Shi et al. 2015, sec. 2.4): choose the lexicon word l that
maximises p(l | y), the sum over every CTC alignment of l with the frames y.

- ``log_likelihoods``: log p(l | y) exactly, for each image's candidate words (every word of the
  lexicon, its own 50 words, or the words near its lexicon-free output), all images at once.
  The words are laid out as a trie and the CTC forward algorithm (Graves et al. 2006, eq. 6-7)
  runs over a forest, one copy of the trie per image cut down to the prefixes of that image's
  candidates, one vectorised step per frame: a word's forward variables depend only on its
  prefix's, so shared prefixes are computed once and no image pays for another's words.
- ``choose``: the best-scoring allowed word, with ties broken by a fixed hash of the word, never
  by its position (the IC03 lexicon lists the ground truth first).
- Large lexicons (CRNN's 50k): the words within edit distance delta of the lexicon-free output
  (CRNN's search space, its eq. 16; found by ``zoo.decode.edit.within``) are scored exactly.
- ``trie_beam_search``: prefix beam search whose prefixes must stay in the lexicon's trie, a whole
  -lexicon search that never enumerates the words.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from zoo.decode.ctc import prefix_beam_search

# log-likelihoods closer than this (in nats) are a tie, broken by the word's hash
TIE_TOLERANCE = 1e-5


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
    paths: np.ndarray               # (words, longest): the nodes spelling each word, 0-padded (the root)
    codes: np.ndarray               # (words, longest): each word's classes, 0-padded
    lengths: np.ndarray
    _children: list[dict[int, int]] | None = field(default=None, repr=False)
    _tie_keys: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def build(cls, words: Sequence[str], charset: str) -> "Trie":
        """The trie of the distinct ``words``, sorted; every character must be in ``charset``
        (class i >= 1 is ``charset[i - 1]``), since the model can emit no other.

        Vectorised: in sorted order a word shares exactly its longest common prefix (lcp) with
        the word before it, so its characters from position lcp on are new nodes and the others
        are the nodes the last word to create that position made."""
        words = sorted(set(words))
        if not words:
            raise ValueError("a lexicon needs at least one word")
        if not words[0]:
            raise ValueError("a lexicon word is empty")
        codes, lengths = encode(words, charset)
        count, longest = codes.shape
        position = np.arange(longest)
        lcp = np.zeros(count, dtype=np.int64)
        lcp[1:] = np.argmin(codes[1:] == codes[:-1], axis=1)  # distinct words differ within max length
        new = (position >= lcp[:, None]) & (position < lengths[:, None])
        preorder = np.cumsum(new.ravel()).reshape(new.shape)  # ids 1, 2, ... in depth-first order
        creator = np.maximum.accumulate(np.where(new, np.arange(count)[:, None], 0), axis=0)
        paths = np.where(position < lengths[:, None], preorder[creator, position], 0)
        rows, cols = np.nonzero(new)  # each node once, where it was created, in id order
        parent = np.concatenate([[-1], np.where(cols > 0, paths[rows, np.maximum(cols - 1, 0)], 0)])
        label = np.concatenate([[0], codes[rows, cols]]).astype(np.int64)
        depth = np.concatenate([[0], cols + 1])
        renumber = np.empty(len(depth), dtype=np.int64)  # depth-first ids -> breadth-first (by depth)
        renumber[np.argsort(depth, kind="stable")] = np.arange(len(depth))
        order = np.argsort(renumber)
        parent = np.where(parent >= 0, renumber[np.maximum(parent, 0)], -1)[order]
        paths = renumber[paths]
        return cls(words, torch.from_numpy(parent), torch.from_numpy(label[order]), torch.from_numpy(depth[order]),
                   torch.from_numpy(paths[np.arange(count), lengths - 1]), paths, codes, lengths)

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

    @property
    def tie_keys(self) -> np.ndarray:
        if self._tie_keys is None:
            self._tie_keys = np.array([tie_key(w) for w in self.words], dtype=np.int64)
        return self._tie_keys


def encode(words: Sequence[str], charset: str) -> tuple[np.ndarray, np.ndarray]:
    """Words as a 0-padded (words, longest) array of classes (charset[i - 1] is class i) and lengths.
    A character outside ``charset`` is an error naming the word: the model cannot emit it."""
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    points = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)
    table = np.zeros(max(int(points.max(initial=0)), max(map(ord, charset))) + 1, dtype=np.int16)
    table[[ord(c) for c in charset]] = np.arange(1, len(charset) + 1)
    flat = table[points]
    if not flat.all():
        bad = int(np.flatnonzero(flat == 0)[0])
        word = words[int(np.searchsorted(np.cumsum(lengths), bad, side="right"))]
        raise ValueError(f"lexicon word {word!r} has {chr(points[bad])!r}, which the model's charset "
                         f"{charset!r} cannot emit")
    codes = np.zeros((len(words), int(lengths.max(initial=1))), dtype=np.int16)
    rows = np.repeat(np.arange(len(words)), lengths)
    codes[rows, np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)] = flat
    return codes, lengths


def tie_key(word: str) -> int:
    """An order-free tie-breaker: a fixed hash of the word (CRC-32, stable across runs)."""
    return zlib.crc32(word.encode("utf-8"))


Candidates = Sequence[np.ndarray] | None  # per image, indices into trie.words; None: every word


@torch.inference_mode()
def log_likelihoods(log_probs: torch.Tensor, trie: Trie, candidates: Candidates = None,
                    max_cells: int = 4_000_000) -> list[torch.Tensor]:
    """log p(word | frames) exactly, per image for its ``candidates`` (every word when None).

    ``log_probs``: (batch, frames, classes) log-softmax outputs, blank = class 0. Images of
    different lengths are padded with frames where the blank is certain (log-prob 0 for class 0,
    -inf elsewhere), which leave every word's probability unchanged. Images are scored in groups
    of at most ``max_cells`` forest nodes to bound memory.
    """
    if candidates is None:  # every image's tree is the whole trie: the (nodes, images) layout
        group = max(1, max_cells // trie.num_nodes)
        return [row for chunk in log_probs.split(group) for row in _dense_scores(chunk, trie)]
    candidates = [np.asarray(c, dtype=np.int64) for c in candidates]
    if len(candidates) != len(log_probs):
        raise ValueError(f"{len(candidates)} candidate lists for {len(log_probs)} images")
    # a word of length k adds at most k nodes to its image's tree
    sizes = [min(trie.num_nodes, int((trie.paths[c] > 0).sum()) + 1) for c in candidates]
    scores, group, cells = [], [], 0
    for image, size in enumerate(sizes):
        if group and cells + size > max_cells:
            scores += _forest_scores(log_probs[group], trie, [candidates[i] for i in group])
            group, cells = [], 0
        group.append(image)
        cells += size
    return scores + (_forest_scores(log_probs[group], trie, [candidates[i] for i in group]) if group else [])


def _dense_scores(log_probs: torch.Tensor, trie: Trie) -> list[torch.Tensor]:
    """Every word for every image: one trie, its forward variables as (nodes, images) rows."""
    final = _ctc_forward(log_probs.permute(1, 2, 0), trie.parent, trie.label, trie.depth, trie.label, None, 1)
    return list(final[trie.word_node].T)


def _forest_scores(log_probs: torch.Tensor, trie: Trie, candidates: list[np.ndarray]) -> list[torch.Tensor]:
    """Each image its own candidates: a forest of one tree per image, holding the prefixes of that
    image's candidates only, its nodes in one depth-ordered vector."""
    batch, frames, classes = log_probs.shape
    nodes = trie.num_nodes
    # forest node = (image, trie node), as the key image * nodes + node. In sorted order a
    # candidate shares exactly its longest common prefix with the one before it, so its nodes
    # from that depth on are new to its image's tree: every node is listed once, without a search.
    ordered = [np.unique(c) for c in candidates]
    words = np.concatenate(ordered)
    image = np.repeat(np.arange(batch), [len(c) for c in ordered])
    codes = trie.codes[words]
    lcp = np.zeros(len(words), dtype=np.int64)
    lcp[1:] = np.argmin(codes[1:] == codes[:-1], axis=1)
    lcp[np.cumsum([len(c) for c in ordered])[:-1]] = 0  # each image's first candidate starts at its root
    column = np.arange(codes.shape[1])
    new = (column >= lcp[:, None]) & (column < trie.lengths[words][:, None])
    keys = np.sort(np.concatenate([(image[:, None] * nodes + trie.paths[words])[new], np.arange(batch) * nodes]))
    image, node = keys // nodes, keys % nodes
    depth = trie.depth.numpy()[node]
    order = np.lexsort((keys, depth))  # by depth: a node's parent always comes before it
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    parent_node = trie.parent.numpy()[node]
    parent = np.where(parent_node >= 0, position[np.searchsorted(keys, image * nodes + parent_node)], -1)
    image, label = torch.from_numpy(image[order]), trie.label[node[order]]
    final = _ctc_forward(log_probs.transpose(0, 1).reshape(frames, batch * classes), torch.from_numpy(parent[order]),
                         label, torch.from_numpy(depth[order]), image * classes + label, image * classes, batch)
    word_nodes = [position[np.searchsorted(keys, i * nodes + trie.word_node.numpy()[c])] for i, c in enumerate(candidates)]
    return [final[torch.from_numpy(w)] for w in word_nodes]


def _ctc_forward(y_frames: torch.Tensor, parent: torch.Tensor, label: torch.Tensor, depth: torch.Tensor,
                 emit: torch.Tensor, blank: torch.Tensor | None, roots: int) -> torch.Tensor:
    """log p(prefix | y) of every node of a depth-ordered forest after the last frame.

    Per node n (prefix l, last label c = label[n], parent n' spelling l minus c), two variables:
    alpha_blank (alignments of l ending in a blank) and alpha_label (ending in c). One frame:
        alpha_blank(n) <- [alpha_blank(n) + alpha_label(n)] * y_blank
        alpha_label(n) <- [alpha_label(n) + alpha_blank(n') + (alpha_label(n') if c != c')] * y_c
    i.e. Graves et al.'s recursion (eq. 6-7) for the two states of l's last label, read off the
    trie. Nodes are in depth order, so frame t updates only those of depth <= t + 1 (deeper ones
    cannot have been reached yet); the first ``roots`` nodes are roots (empty prefixes).

    ``y_frames[t]`` holds frame t's log-probs as rows: node n's label log-prob is row ``emit[n]``
    and its blank's row ``blank[n]`` (row 0 for every node when ``blank`` is None). Rows may be
    vectors, one entry per image (one trie for many images), or scalars (a forest of one tree per
    image, rows indexed image * classes + class).
    """
    size = len(parent)
    # row `size` is a sentinel parent for the roots, always -inf: a root never gains a label
    parent = torch.where(parent >= 0, parent, size)
    repeat = label == torch.cat([label, torch.zeros(1, dtype=label.dtype)])[parent]
    # from the parent: alpha_blank if the label repeats the parent's (CTC needs a blank between),
    # otherwise the parent's total; both live in `state`, read through one flat index
    source = parent + (size + 1) * (~repeat).long()
    trailing = y_frames.shape[2:]
    state = torch.full((2, size + 1, *trailing), -torch.inf, dtype=y_frames.dtype)
    alpha_blank, total = state[0], state[1]
    alpha_blank[:roots] = 0.0
    alpha_label = torch.full((size + 1, *trailing), -torch.inf, dtype=y_frames.dtype)
    flat = state.view(2 * (size + 1), *trailing)
    reached = torch.searchsorted(depth, torch.arange(len(y_frames)) + 1, right=True).tolist()
    for y, n in zip(y_frames.contiguous(), reached):
        torch.logaddexp(alpha_blank[:n], alpha_label[:n], out=total[:n])
        torch.logaddexp(alpha_label[:n], flat.index_select(0, source[:n]), out=alpha_label[:n])
        alpha_label[:n] += y.index_select(0, emit[:n])
        torch.add(total[:n], y[0] if blank is None else y.index_select(0, blank[:n]), out=alpha_blank[:n])
    return torch.logaddexp(alpha_blank, alpha_label)[:size]


def choose(scores: Sequence[torch.Tensor], trie: Trie, candidates: Candidates = None) -> list[tuple[str, float]]:
    """Each image's best word among its ``candidates`` (scored by ``log_likelihoods`` in the same
    order) and its log-likelihood. Words within ``TIE_TOLERANCE`` of the best are tied and the one
    with the smallest ``tie_key`` wins, so a choice never depends on where a word sits in its
    lexicon."""
    every = np.arange(len(trie.words))
    chosen = []
    for image, score in enumerate(scores):
        words = every if candidates is None else np.asarray(candidates[image], dtype=np.int64)
        if not len(words):
            raise ValueError(f"image {image} has an empty lexicon")
        score = score.double().numpy()
        best = score.max()
        tied = np.flatnonzero((score >= best - TIE_TOLERANCE) | (best == -np.inf))
        pick = tied[np.argmin(trie.tie_keys[words[tied]])]
        chosen.append((trie.words[words[pick]], float(score[pick])))
    return chosen


def trie_beam_search(log_probs: torch.Tensor, trie: Trie, beam_width: int = 10) -> tuple[str, float] | None:
    """Prefix beam search over one image's (frames, classes) log-probs, extending prefixes only
    along the trie. Returns the most probable complete word among the final beams and its
    log-probability over the alignments the beam kept (a lower bound of log p(word | y)), or None
    when no final beam is a complete word."""
    children = trie.children
    terminal = dict(zip(trie.word_node.tolist(), trie.words))
    beams = prefix_beam_search(log_probs, beam_width, expand=lambda node: children[node].items(), root=0)
    return next(((terminal[node], score) for node, score in beams if node in terminal), None)
