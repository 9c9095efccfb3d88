"""The one "Did you mean ...?" of every error that names an unknown key, model or benchmark."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str], n: int = 3, cutoff: float = 0.5) -> str:
    """`` Did you mean 'a' or 'b'?`` for the ``choices`` closest to ``word`` (difflib's ratio of at
    least ``cutoff``), or "" when none is close: ready to append to a sentence that ends in a period."""
    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=cutoff)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
