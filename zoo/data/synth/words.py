"""What the renderer writes: English words, digit strings and random alphanumerics, in lower, upper
and title case. Words come from ``zoo.data.vocabulary`` (a dictionary), never from a benchmark's
labels or lexicons."""
from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from zoo.data.charset import Charset
from zoo.data.vocabulary import english_words

KINDS = ("word", "digits", "random")
CASES = ("lower", "upper", "title")


@dataclass(frozen=True)
class WordMix:
    """Shares of each kind of string and each case (normalised when sampling)."""
    word: float = 0.8
    digits: float = 0.1
    random: float = 0.1
    lower: float = 0.5
    upper: float = 0.25
    title: float = 0.25
    max_length: int = 23


def _pick(options: tuple[str, ...], cdf: np.ndarray, rng: np.random.Generator) -> str:
    return options[min(int(np.searchsorted(cdf, rng.random(), side="right")), len(options) - 1)]


def _apply_case(text: str, case: str) -> str:
    return {"lower": text.lower(), "upper": text.upper(), "title": text.title()}[case]


class WordSampler:
    """Draws strings whose every character (after the renderer's case choice) is in ``charset`` and
    that fit in ``max_frames`` CTC frames. ``alphabet`` is the set random strings draw from (the
    charset's characters that the renderer's fonts can draw)."""

    def __init__(self, charset: Charset, max_frames: int = 26, mix: WordMix = WordMix(), alphabet: str | None = None):
        self.charset, self.max_frames, self.mix = charset, max_frames, mix
        self.alphabet = alphabet or "".join(c for c in charset.chars if not c.isspace())
        limit = min(mix.max_length, max_frames)
        self.words = [w for w in english_words() if len(w) <= limit and not charset.unknown(w)]
        self.digits = "".join(c for c in string.digits if c in self.alphabet)
        weights = np.array([mix.word if self.words else 0.0, mix.digits if self.digits else 0.0, mix.random])
        self.kind_cdf = np.cumsum(weights) / weights.sum()
        case_w = np.array([mix.lower, mix.upper, mix.title])
        self.case_cdf = np.cumsum(case_w) / case_w.sum()

    def __call__(self, rng: np.random.Generator) -> str:
        for _ in range(100):
            text = self._draw(rng)
            if text and self.charset.fits(text, self.max_frames) and not self.charset.unknown(text):
                return text
        raise ValueError(f"cannot draw a string that fits {self.max_frames} frames from charset "
                         f"{self.charset.chars[:20]!r}...; raise max_frames")

    def _draw(self, rng: np.random.Generator) -> str:
        kind = _pick(KINDS, self.kind_cdf, rng)
        if kind == "word":
            return _apply_case(self.words[rng.integers(len(self.words))], _pick(CASES, self.case_cdf, rng))
        if kind == "digits":
            return "".join(rng.choice(list(self.digits), size=rng.integers(1, 9)))
        length = int(rng.integers(1, min(self.mix.max_length, 12) + 1))
        text = "".join(rng.choice(list(self.alphabet), size=length))
        if self.charset.case == "keep":  # the alphabet already holds each case it allows
            return text
        return _apply_case(text, _pick(CASES, self.case_cdf, rng))
