"""Levenshtein edit distance: one pair, many pairs at once (vectorised), and the alignment that explains a distance (for character-confusion counts)."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def distance(a: str, b: str) -> int:
    """Unit-cost insertions, deletions and substitutions turning ``a`` into ``b``."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def encode_words(words: Sequence[str], alphabet: str) -> tuple[np.ndarray, np.ndarray]:
    """Words as a zero-padded (n, max_len) array of codes (1 + position in ``alphabet``; a
    character outside it gets a code no alphabet character has) and their lengths."""
    index = {c: i + 1 for i, c in enumerate(alphabet)}
    unknown = len(alphabet) + 1
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    codes = np.zeros((len(words), max(int(lengths.max(initial=0)), 1)),
                     dtype=np.uint8 if unknown < 256 else np.int32)
    for row, word in enumerate(words):
        codes[row, :len(word)] = [index.get(c, unknown) for c in word]
    return codes, lengths


def pair_distances(a: np.ndarray, a_lengths: np.ndarray, b: np.ndarray, b_lengths: np.ndarray) -> np.ndarray:
    """Edit distance between encoded words a[k] and b[k] for every row k, all rows at once (``a``
    may have a single row, compared with every row of ``b``).

    The row recurrence D[i][j] = min(D[i-1][j] + 1, D[i-1][j-1] + cost, D[i][j-1] + 1) has a
    sequential dependency along j; it equals cummin_k<=j (V[k] - k) + j with V the first two
    terms, so each of a's characters costs a few whole-array operations (in int8 while words
    are shorter than 64 characters, four times faster than int64).
    """
    rows = len(b)
    dtype = np.int8 if max(a.shape[1], b.shape[1]) < 64 else np.int32
    columns = np.arange(b.shape[1] + 1, dtype=dtype)
    row = np.broadcast_to(columns, (rows, len(columns))).copy()
    via = np.empty_like(row)
    a_lengths = np.broadcast_to(a_lengths, (rows,))
    result = b_lengths.astype(np.int64)  # the distance from an empty word
    for i in range(1, int(a_lengths.max(initial=0)) + 1):
        via[:, 0] = i
        np.minimum(row[:, 1:] + 1, row[:, :-1] + (b != a[:, i - 1:i]), out=via[:, 1:])
        via -= columns
        np.minimum.accumulate(via, axis=1, out=row)
        row += columns
        done = np.flatnonzero(a_lengths == i)
        result[done] = row[done, b_lengths[done]]
    return result


def alignment(truth: str, predicted: str) -> list[tuple[str, str]]:
    """The edit operations of one minimal alignment as (truth char, predicted char) pairs:
    a substitution ("a", "o"), a deletion ("a", "") or an insertion ("", "o"); matches omitted."""
    rows = [[0] * (len(predicted) + 1) for _ in range(len(truth) + 1)]
    for i in range(len(truth) + 1):
        for j in range(len(predicted) + 1):
            if i == 0 or j == 0:
                rows[i][j] = i + j
            else:
                rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1,
                                 rows[i - 1][j - 1] + (truth[i - 1] != predicted[j - 1]))
    ops, i, j = [], len(truth), len(predicted)
    while i or j:
        if i and j and rows[i][j] == rows[i - 1][j - 1] + (truth[i - 1] != predicted[j - 1]):
            if truth[i - 1] != predicted[j - 1]:
                ops.append((truth[i - 1], predicted[j - 1]))
            i, j = i - 1, j - 1
        elif i and rows[i][j] == rows[i - 1][j] + 1:
            ops.append((truth[i - 1], ""))
            i -= 1
        else:
            ops.append(("", predicted[j - 1]))
            j -= 1
    return ops[::-1]
