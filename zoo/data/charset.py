"""The set of characters a model reads, and how labels become CTC targets.

Class 0 is the CTC blank; class i >= 1 is ``chars[i - 1]`` (the convention of ``ModelConfig.charset``
and ``zoo.decode.ctc``). A charset has a case policy: "fold-lower" (the papers' 36 case-insensitive
alphanumerics), "fold-upper", or "keep".
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from zoo.alphabets import ALPHANUMERIC_36
from zoo.fileio import read_utf8

CASE_POLICIES = ("fold-lower", "fold-upper", "keep")
LABEL_PROBLEMS = ("empty", "unknown_chars", "too_long")
ALPHANUMERIC_62 = string.digits + string.ascii_lowercase + string.ascii_uppercase
PRINTABLE_94 = "".join(c for c in string.printable if not c.isspace())
NAMED = {  # name: (characters, case policy)
    "alnum36": (ALPHANUMERIC_36, "fold-lower"),
    "alnum62": (ALPHANUMERIC_62, "keep"),
    "printable94": (PRINTABLE_94, "keep"),
}


@dataclass(frozen=True)
class Charset:
    """``chars`` in class order (class i >= 1 is ``chars[i - 1]``) and the ``case`` policy."""
    chars: str
    case: str = "keep"

    def __post_init__(self) -> None:
        if self.case not in CASE_POLICIES:
            raise ValueError(f"case policy {self.case!r} is not one of {CASE_POLICIES}")
        if not self.chars:
            raise ValueError("a charset needs at least one character")
        seen: dict[str, int] = {}
        for i, c in enumerate(self.chars):
            if c in seen:
                raise ValueError(f"charset repeats {c!r} (positions {seen[c]} and {i}); each character "
                                 f"must appear once")
            seen[c] = i
        object.__setattr__(self, "_index", {c: i + 1 for i, c in enumerate(self.chars)})

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def named(cls, name: str) -> "Charset":
        if name not in NAMED:
            raise KeyError(f"unknown charset {name!r}; named charsets: {', '.join(NAMED)} "
                           f"(or give a file with one character per line)")
        chars, case = NAMED[name]
        return cls(chars, case)

    @classmethod
    def from_file(cls, path: str | Path, case: str = "keep") -> "Charset":
        """The charset of a file with one character per line; a character on two lines is named with both."""
        lines = read_charset_lines(path)
        first: dict[str, int] = {}
        for number, c in enumerate(lines, 1):
            if c in first:
                raise ValueError(f"charset {path}: {c!r} is on line {first[c]} and again on line {number}; each "
                                 f"character must appear once: delete one of the lines")
            first[c] = number
        return cls("".join(lines), case)

    @classmethod
    def resolve(cls, spec: str, case: str | None = None) -> "Charset":
        """A named charset (``alnum36``, ``alnum62``, ``printable94``) or a charset file's path."""
        if spec in NAMED:
            charset = cls.named(spec)
            return charset if case is None else cls(charset.chars, case)
        if not Path(spec).is_file():
            raise FileNotFoundError(f"charset {spec!r} is neither a named charset ({', '.join(NAMED)}) "
                                    f"nor a file with one character per line")
        return cls.from_file(spec, case or "keep")

    @classmethod
    def from_config(cls, config) -> "Charset":
        """The charset a model was built with (``ModelConfig.charset`` and ``.case``)."""
        return cls(config.charset, config.case)

    # --- labels -----------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.chars) + 1

    def normalize(self, text: str) -> str:
        """Apply the case policy."""
        if self.case == "fold-lower":
            return text.lower()
        if self.case == "fold-upper":
            return text.upper()
        return text

    def unknown(self, text: str) -> str:
        """The characters of ``text`` (after case folding) that are not in the charset, in order."""
        return "".join(dict.fromkeys(c for c in self.normalize(text) if c not in self._index))

    def encode(self, text: str) -> list[int]:
        """Class indices of ``text`` after case folding; an unknown character is an error, never dropped."""
        missing = self.unknown(text)
        if missing:
            raise ValueError(f"label {text!r} has characters outside the charset: {missing!r}")
        return [self._index[c] for c in self.normalize(text)]

    def decode(self, indices) -> str:
        """The characters of a class sequence, blanks (0) skipped. (CTC repeat-collapsing of frame-wise
        predictions is ``zoo.decode.ctc``'s job; this maps targets back to text.)"""
        return "".join(self.chars[i - 1] for i in indices if i != 0)

    @staticmethod
    def min_frames(text: str) -> int:
        """Frames CTC needs to emit ``text``: one per character, plus a blank between each pair of
        equal neighbours ("ll" in "hello" cannot be told from "l" without one)."""
        return len(text) + sum(a == b for a, b in zip(text, text[1:]))

    def fits(self, text: str, frames: int) -> bool:
        return self.min_frames(self.normalize(text)) <= frames

    def label_problem(self, label: str, frames: int | None = None) -> str | None:
        """Why ``label`` cannot be a CTC target here (one of LABEL_PROBLEMS), or None."""
        if not label:
            return "empty"
        if self.unknown(label):
            return "unknown_chars"
        if frames is not None and not self.fits(label, frames):
            return "too_long"
        return None


def read_charset_lines(path: str | Path) -> list[str]:
    """The lines of a charset file, each one character, in order (only the line ending is stripped,
    so a line holding a single space is the space character)."""
    path = Path(path)
    lines = read_utf8(path, "charset").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if not lines:  # else "needs at least one character", or an index import's "integers in 0..-1", unnamed
        raise ValueError(f"charset {path} is empty; it needs one character per line")
    for number, line in enumerate(lines, 1):
        if len(line) != 1:
            raise ValueError(f"{path}:{number}: expected exactly one character per line, got {line!r}")
    return lines
