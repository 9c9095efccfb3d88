"""The CTC best-path alignment: which output frame emits which character."""
from __future__ import annotations

from dataclasses import dataclass

import torch


def best_path(logits: torch.Tensor) -> torch.Tensor:
    """Per-frame argmax class of one image's logits (frames, classes)."""
    return logits.argmax(-1)


@dataclass(frozen=True)
class Segment:
    """A run of consecutive frames with the same best class; ``char`` is None for the blank."""
    char: str | None
    first: int
    last: int

    def as_dict(self) -> dict:
        return {"char": self.char, "first_frame": self.first, "last_frame": self.last}


def alignment(logits: torch.Tensor, charset: str, blank: int = 0) -> list[Segment]:
    """Runs of the best path; the non-blank runs, in order, spell the greedy transcription
    (``zoo.decode.ctc.greedy_decode``)."""
    classes = best_path(logits).tolist()
    segments, start = [], 0
    for t in range(1, len(classes) + 1):
        if t == len(classes) or classes[t] != classes[start]:
            c = classes[start]
            segments.append(Segment(None if c == blank else charset[c - 1], start, t - 1))
            start = t
    return segments


def transcription(segments: list[Segment]) -> str:
    return "".join(s.char for s in segments if s.char is not None)
