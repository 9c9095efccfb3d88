"""Reading words from images with a trained model (``model.read``, ``zoo predict``).

``Reader`` is the ``Recognizer`` with ``read``: what ``zoo.create_model`` and ``zoo.factory.load_model``
build. The method lives here, not on the network in ``zoo.models``, because reading needs the data
and decoding layers (preprocessing, charsets, lexicon decoding), which sit above the models.

Each image is one cropped word. The lexicon-free reading is the greedy (best path) or prefix-beam
output; with a lexicon, the reading is also the lexicon word of highest CTC likelihood, scored
exactly (``zoo.decode.lexicon``), with its probability.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from PIL import Image, ImageOps

from zoo.data.charset import Charset
from zoo.data.transforms import read_image
from zoo.decode.ctc import char_confidences
from zoo.evaluate import Sample, decode_free, decode_shared, model_log_probs
from zoo.fileio import read_utf8
from zoo.models.recognizer import Recognizer

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class Reading:
    file: str                       # the image's path, or "image 3" for a PIL image or array given as such
    text: str                       # lexicon-free output
    probability: float              # of that output's path (greedy) or prefix (beam)
    char_probabilities: list[float] = field(default_factory=list)  # per character of text (char_confidences)
    word: str | None = None         # the lexicon's most likely word, when a lexicon was given
    word_probability: float | None = None

    def as_dict(self) -> dict:
        row = {"file": self.file, "text": self.text, "probability": float(f"{self.probability:.4g}"),
               "char probabilities": " ".join(f"{p:.3f}" for p in self.char_probabilities)}
        if self.word is not None:
            row.update({"lexicon word": self.word, "word probability": float(f"{self.word_probability:.4g}")})
        return row


def image_files(inputs: Sequence[str | Path]) -> list[Path]:
    """The image files named by ``inputs``: files as given, folders expanded to their images (sorted).

    Every problem is collected and raised together, so one run reports all bad inputs."""
    files, problems = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            # a subfolder named like an image (photos.png/) is no image
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
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
    return lexicon_words(read_utf8(path, "lexicon").splitlines(), charset, str(path))


def lexicon_words(lines: Iterable[str], charset: Charset, source: str = "the lexicon") -> list[str]:
    """The distinct words of ``lines``, case-folded like the model's labels, sorted; each word the model
    cannot emit is named (with its line), all in one error."""
    words, bad = [], []
    for number, line in enumerate(lines, 1):
        word = charset.normalize(line.strip())
        if not word:
            continue
        if charset.unknown(word):
            bad.append(f"line {number} {word!r}")
        words.append(word)
    if bad:
        raise ValueError(f"{source}: {len(bad)} word(s) have characters the model cannot emit "
                         f"(charset {charset.chars!r}): {', '.join(bad[:5])}; remove them or use a model "
                         f"trained on a larger charset")
    if not words:
        raise ValueError(f"{source}: the lexicon is empty (expected one word per line)")
    return sorted(set(words))


def _sample(image, index: int) -> Sample:
    """An image to read as a benchmark-style sample: a path (opened when read), a PIL image or an array."""
    if isinstance(image, (str, Path)):
        return Sample(str(image), "", str(image), lambda: open_image(image), index + 1)
    if isinstance(image, Image.Image):
        # upright by its EXIF Orientation as a file is (a copy: the caller's image is left as it is)
        return Sample(getattr(image, "filename", "") or f"image {index + 1}", "", f"image {index + 1}",
                      lambda: ImageOps.exif_transpose(image), index + 1)
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or image.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"image {index + 1}: an array is (H, W) or (H, W, C) of uint8 or uint16 pixels, "
                             f"got {image.dtype} {image.shape}")
        return Sample(f"image {index + 1}", "", f"image {index + 1}", lambda: Image.fromarray(image), index + 1)
    raise TypeError(f"image {index + 1}: a path, PIL image or numpy array, got {type(image).__name__}")


def open_image(path: str | Path) -> Image.Image:
    """The decoded, upright image at ``path`` (``zoo.data.transforms.read_image``); an unreadable one,
    a decompression bomb included, is an error naming the path once."""
    return read_image(path)


def read_words(model, images, lexicon: Sequence[str] | str | Path | None = None, decoder: str = "greedy",
               beam_width: int = 10, batch_size: int = 64,
               on_batch: Callable[[int], None] | None = None) -> list[Reading] | Reading:
    """Read one word per image (what ``model.read`` and ``zoo predict`` do). ``images``: one image or a
    list of paths, PIL images and numpy arrays; one image gives one Reading, a list a list. ``lexicon``:
    words, or a file of one word per line: each reading also gets the lexicon word of highest CTC
    likelihood (exact, like ``zoo eval``'s Full setting) and its probability."""
    single = isinstance(images, (str, Path, Image.Image, np.ndarray))
    if getattr(model, "num_classes", None) == 0:
        raise ValueError("this model has no classifier (num_classes=0): it gives features, it reads nothing")
    charset = Charset.from_config(model.config)
    if isinstance(lexicon, (str, Path)):
        lexicon = read_lexicon(lexicon, charset)
    elif lexicon is not None:
        lexicon = lexicon_words(lexicon, charset)
    samples = [_sample(image, i) for i, image in enumerate([images] if single else images)]
    log_probs = model_log_probs(model, samples, batch_size, on_batch)
    free = decode_free(log_probs, model.config.charset, decoder, beam_width)
    readings = [Reading(s.name, text, math.exp(score), _confidences(lp, text, model.config.charset))
                for s, lp, text, score in zip(samples, log_probs, free.words, free.scores)]
    if lexicon:
        chosen = decode_shared(log_probs, lexicon, model.config.charset)
        for reading, word, score in zip(readings, chosen.words, chosen.scores):
            reading.word, reading.word_probability = word, math.exp(score)
    return readings[0] if single else readings


class Reader(Recognizer):
    """A ``Recognizer`` that reads the word in an image (the one ``zoo.create_model`` builds)."""

    def read(self, images, lexicon=None, decoder: str = "greedy", beam_width: int = 10, batch_size: int = 64):
        """Read the word in each image: ``read_words`` (paths, PIL images or numpy arrays; one image
        gives one ``Reading``, a list a list), with its probability and per-character confidences;
        ``lexicon`` (words, or a file of one word per line) adds the most likely word."""
        return read_words(self, images, lexicon, decoder, beam_width, batch_size)


def _confidences(log_probs, text: str, charset: str) -> list[float]:
    return char_confidences(log_probs, [charset.index(c) + 1 for c in text])
