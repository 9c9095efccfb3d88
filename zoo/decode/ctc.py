"""Lexicon-free CTC decoding. Class 0 is the blank; class i >= 1 is ``charset[i - 1]``."""
from __future__ import annotations

import torch


def greedy_decode(logits: torch.Tensor, charset: str, blank: int = 0) -> list[str]:
    """Best path (CRNN's lexicon-free transcription): argmax per frame, collapse repeats, drop blanks.

    ``logits``: (batch, frames, classes), as a ``Recognizer`` returns them.
    """
    best = logits.argmax(-1)
    keep = best != blank
    keep[:, 1:] &= best[:, 1:] != best[:, :-1]
    return ["".join(charset[i - 1] for i in row[mask].tolist()) for row, mask in zip(best, keep)]
