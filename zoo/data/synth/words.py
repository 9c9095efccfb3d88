"""What the renderer writes. The baseline mix: dictionary words, digit strings and random
alphanumerics, in lower, upper and title case. The sign mix (``WordMix.signs``, the scene preset) adds
what real word crops of street scenes say: frequent words, names, shop and street words, and numbers
and codes, mostly in capitals. Words come from ``zoo.data.vocabulary``, never from a benchmark's
labels or lexicons."""
from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from zoo.data.charset import Charset
from zoo.data.vocabulary import SIGN_WORDS, english_words, frequent_words, name_words

KINDS = ("word", "digits", "random", "frequent", "name", "sign", "code")  # the first three: the baseline's
CASES = ("lower", "upper", "title")
FREQUENCY_POWER = 0.5  # frequency ** 0.5: the 100 commonest words draw 6% of frequent words, not half
# Numbers and codes as signs write them: "#" a digit, "!" a digit but 0, "@" a capital. Characters the
# charset lacks are dropped (alnum36 reads "$12.99" as "1299", as its benchmarks' labels do).
CODE_PATTERNS = (
    "$!", "$!#", "$!##", "$!.##", "$!#.##", "$!#.99", "£!.##", "€!#", "!0%", "!#%",   # prices, discounts
    "!", "!#", "!##", "!###", "!####", "!#@", "!##@",                                  # house numbers, postcodes
    "@!", "@!#", "@!##", "@@!", "@@!#", "@-!#", "!#-@",                                # units, blocks, routes
    "!##-####", "(!##)", "1-800", "!##.!##.####", "+!#",                               # phone fragments
    "24H", "24HR", "24/7", "!AM", "!PM", "1!AM", "!:#0", "1!:#0", "!-!",               # opening hours
    "19##", "20##", "EST19##", "NO!", "NO.!#", "1ST", "2ND", "3RD", "!TH", "!#TH",    # years, numbers
)


@dataclass(frozen=True)
class WordMix:
    """Shares of each kind of string and each case (normalised when sampling). Defaults: the
    baseline (today's renderer); ``WordMix.signs()``: the scene preset's."""
    word: float = 0.8       # dictionary headwords (GCIDE): mostly rare words
    digits: float = 0.1     # 1-8 random digits
    random: float = 0.1     # random strings over the charset
    frequent: float = 0.0   # frequent English words, weighted by frequency ** FREQUENCY_POWER
    name: float = 0.0       # first, last and place names
    sign: float = 0.0       # shop and street words (vocabulary.SIGN_WORDS)
    code: float = 0.0       # prices, house numbers, unit codes, phone fragments, hours (CODE_PATTERNS)
    lower: float = 0.5
    upper: float = 0.25
    title: float = 0.25
    max_length: int = 23

    @classmethod
    def signs(cls) -> "WordMix":
        """What street scenes say, in the cases signs use: capitals mostly, then title case."""
        return cls(word=0.15, digits=0.05, random=0.05, frequent=0.3, name=0.15, sign=0.15, code=0.15,
                   lower=0.15, upper=0.55, title=0.3)


def _pick(options: tuple[str, ...], cdf: np.ndarray, rng: np.random.Generator) -> str:
    return options[min(int(np.searchsorted(cdf, rng.random(), side="right")), len(options) - 1)]


def _apply_case(text: str, case: str) -> str:
    return {"lower": text.lower(), "upper": text.upper(), "title": text.title()}[case]


def fill_code(pattern: str, rng: np.random.Generator) -> str:
    """``pattern`` with each "#", "!" and "@" replaced by a random digit, non-zero digit or capital."""
    pools = {"#": string.digits, "!": string.digits[1:], "@": string.ascii_uppercase}
    return "".join(c if c not in pools else pools[c][rng.integers(len(pools[c]))] for c in pattern)


class WordSampler:
    """Draws strings whose every character (after the renderer's case choice) is in ``charset`` and
    that fit in ``max_frames`` CTC frames. ``alphabet`` is the set random strings draw from (the
    charset's characters that the renderer's fonts can draw). Vocabularies whose share is 0 are not
    loaded."""

    def __init__(self, charset: Charset, max_frames: int = 26, mix: WordMix = WordMix(), alphabet: str | None = None):
        self.charset, self.max_frames, self.mix = charset, max_frames, mix
        self.alphabet = alphabet or "".join(c for c in charset.chars if not c.isspace())
        self.words = self._usable(english_words() if mix.word else [])
        self.names = self._usable(name_words() if mix.name else [])
        self.signs = self._usable(SIGN_WORDS if mix.sign else [])
        self.frequent, self.frequent_cdf = self._frequent() if mix.frequent else ([], np.ones(1))
        self.digits = "".join(c for c in string.digits if c in self.alphabet)
        weights = np.array([mix.word if self.words else 0.0, mix.digits if self.digits else 0.0, mix.random,
                            mix.frequent if self.frequent else 0.0, mix.name if self.names else 0.0,
                            mix.sign if self.signs else 0.0, mix.code if self.digits else 0.0])
        self.kind_cdf = np.cumsum(weights) / weights.sum()
        case_w = np.array([mix.lower, mix.upper, mix.title])
        self.case_cdf = np.cumsum(case_w) / case_w.sum()

    def _usable(self, words) -> list[str]:
        limit = min(self.mix.max_length, self.max_frames)
        return [w for w in words if len(w) <= limit and not self.charset.unknown(w)]

    def _frequent(self) -> tuple[list[str], np.ndarray]:
        words, freqs = frequent_words()
        keep = set(self._usable(words))
        pairs = [(w, f) for w, f in zip(words, freqs) if w in keep]
        cdf = np.cumsum([f ** FREQUENCY_POWER for _, f in pairs])
        return [w for w, _ in pairs], cdf / cdf[-1]

    def __call__(self, rng: np.random.Generator) -> str:
        for _ in range(100):
            text = self._draw(rng)
            if text and self.charset.fits(text, self.max_frames) and not self.charset.unknown(text):
                return text
        raise ValueError(f"cannot draw a string that fits {self.max_frames} frames from charset "
                         f"{self.charset.chars[:20]!r}...; raise max_frames")

    def _draw(self, rng: np.random.Generator) -> str:
        kind = _pick(KINDS, self.kind_cdf, rng)
        if kind == "digits":
            return "".join(rng.choice(list(self.digits), size=rng.integers(1, 9)))
        if kind == "random":
            length = int(rng.integers(1, min(self.mix.max_length, 12) + 1))
            text = "".join(rng.choice(list(self.alphabet), size=length))
            if self.charset.case == "keep":  # the alphabet already holds each case it allows
                return text
        elif kind == "frequent":
            text = self.frequent[min(int(np.searchsorted(self.frequent_cdf, rng.random())), len(self.frequent) - 1)]
        elif kind == "code":
            text = "".join(c for c in fill_code(CODE_PATTERNS[rng.integers(len(CODE_PATTERNS))], rng)
                           if not self.charset.unknown(c))
        else:
            words = {"word": self.words, "name": self.names, "sign": self.signs}[kind]
            text = words[rng.integers(len(words))]
        return _apply_case(text, _pick(CASES, self.case_cdf, rng))
