"""The English vocabulary: training words for the renderer and the "50k" lexicon of evaluation.

Source: the GNU Collaborative International Dictionary of English (GCIDE) headword list, as shipped by
the ``english-words`` PyPI package (a dependency of this project, so ``pip install -e .`` installs it).
It is independent of every benchmark: never derived from IC03 or any other test set's labels.
"""
from __future__ import annotations

import functools
import re

SOURCE = "english-words (PyPI) 'gcide' list: GNU Collaborative International Dictionary of English headwords"
_WORD = re.compile(r"[a-z]+")


@functools.lru_cache(maxsize=1)
def _words() -> tuple[str, ...]:
    try:
        from english_words import get_english_words_set
    except ImportError as err:
        raise ImportError("the English vocabulary needs the `english-words` package: pip install -e . "
                          "(or pip install english-words)") from err
    words = get_english_words_set(["gcide"], lower=True, alpha=True)
    return tuple(sorted(w for w in words if _WORD.fullmatch(w)))


def english_words() -> list[str]:
    """Over 100k lowercase English words (letters a-z only), sorted, without duplicates."""
    return list(_words())
