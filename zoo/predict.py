"""Reading words from image files with a trained model (``zoo predict``).

Each image is one cropped word. The lexicon-free reading is the greedy (best path) or prefix-beam
output; with a lexicon, the reading is also the lexicon word of highest CTC likelihood, scored
exactly (``zoo.decode.lexicon``), with its probability.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from PIL import Image

from zoo.data.charset import Charset
from zoo.evaluate import Sample, decode_free, decode_shared, model_log_probs

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class Reading:
    file: str
    text: str                       # lexicon-free output
    probability: float              # of that output's path (greedy) or prefix (beam)
    word: str | None = None         # the lexicon's most likely word, when a lexicon was given
    word_probability: float | None = None

    def as_dict(self) -> dict:
        row = {"file": self.file, "text": self.text, "probability": float(f"{self.probability:.4g}")}
        if self.word is not None:
            row.update({"lexicon word": self.word, "word probability": float(f"{self.word_probability:.4g}")})
        return row


def image_files(inputs: Sequence[str | Path]) -> list[Path]:
    """The image files named by ``inputs``: files as given, folders expanded to their images (sorted).

    Every problem is collected and raised together, so one run reports all bad inputs."""
    files, problems = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                problems.append(f"{item}: a folder with no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            problems.append(f"{item}: no such file or folder")
    if problems:
        raise FileNotFoundError("; ".join(problems))
    return files


def read_lexicon(path: str | Path, charset: Charset) -> list[str]:
    """One word per line, case-folded like the model's labels. A word the model cannot emit is an
    error naming its line, not a silent drop."""
    words, bad = [], []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        word = charset.normalize(line.strip())
        if not word:
            continue
        if charset.unknown(word):
            bad.append(f"line {number} {word!r}")
        words.append(word)
    if bad:
        raise ValueError(f"{path}: {len(bad)} word(s) have characters the model cannot emit "
                         f"(charset {charset.chars!r}): {', '.join(bad[:5])}; remove them or use a model "
                         f"trained on a larger charset")
    if not words:
        raise ValueError(f"{path}: the lexicon is empty (expected one word per line)")
    return sorted(set(words))


def read_words(model, files: Sequence[Path], lexicon: Sequence[str] | None = None, decoder: str = "greedy",
               beam_width: int = 10, batch_size: int = 64,
               on_batch: Callable[[int], None] | None = None) -> list[Reading]:
    samples = [Sample(str(f), "", str(f), lambda f=f: Image.open(f), i + 1) for i, f in enumerate(files)]
    log_probs = model_log_probs(model, samples, batch_size, on_batch)
    charset = model.config.charset
    free = decode_free(log_probs, charset, decoder, beam_width)
    readings = [Reading(str(f), text, math.exp(score)) for f, text, score in zip(files, free.words, free.scores)]
    if lexicon:
        chosen = decode_shared(log_probs, lexicon, charset)
        for reading, word, score in zip(readings, chosen.words, chosen.scores):
            reading.word, reading.word_probability = word, math.exp(score)
    return readings
