"""A torch Dataset over a public-layout LMDB, and the collate that turns samples into a CTC batch.

Labels are screened once, up front, against the charset and the model's frame count: a label that is
empty, has characters outside the charset, or needs more frames than the model emits (CTC needs a
blank between equal neighbours) is dropped and counted, or is an error, by ``label_policy``. It is
never stripped of the offending characters or replaced by a dummy. Images are decoded lazily: a
corrupt one makes ``__getitem__`` return a ``Skipped`` marker, which the collate removes and counts, so
the count reaches the training loop from every DataLoader worker (``Batch.skipped``; sum it over an
epoch and report it).

``verify_lmdb`` (``zoo data verify``) is the same screening over every sample, ahead of any run, and
checks the layout itself (num-samples against the samples stored, missing keys, UTF-8 text).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from zoo.data.charset import LABEL_PROBLEMS, Charset
from zoo.data.lmdb import LmdbReader, Tally, decode_image, image_key, label_key, lexicon_key
from zoo.data.transforms import Preprocess, UnreadableImage

LABEL_POLICIES = ("drop", "error")


def frame_table(model, preprocess: Preprocess) -> int | list[int]:
    """Frames the model emits per input width: one number for a fixed width, else a table indexed by
    the resized width (keep-ratio widths run from ``preprocess.width`` to ``preprocess.max_width``)."""
    if preprocess.width_policy == "fixed":
        return model.num_frames(preprocess.width)
    return [model.num_frames(max(w, 1)) for w in range(preprocess.max_width + 1)]


def max_frames(frames: int | Sequence[int] | None) -> int | None:
    if frames is None or isinstance(frames, int):
        return frames
    return max(frames)


@dataclass
class LabelReport(Tally):
    """What label screening kept, and the tally of what it rejected (by ``LABEL_PROBLEMS`` reason)."""
    total: int = 0
    kept: int = 0

    def summary(self) -> str:
        parts = [f"{self.counts[r]} {r.replace('_', ' ')}" for r in LABEL_PROBLEMS if self.counts[r]]
        return f"{self.kept} of {self.total} labels kept" + (f"; rejected: {', '.join(parts)}" if parts else "")

    def as_dict(self) -> dict:
        return {"total": self.total, "kept": self.kept, **{r: self.counts[r] for r in LABEL_PROBLEMS}}


def screen_labels(labels: Sequence[str], charset: Charset, frames: int | None) -> tuple[list[int], LabelReport]:
    """1-based indices of the usable labels, and the report of the rest."""
    report = LabelReport(total=len(labels))
    keep = []
    for index, label in enumerate(labels, 1):
        problem = charset.label_problem(label, frames)
        if problem is None:
            keep.append(index)
        else:
            report.add(problem, index, label)
    report.kept = len(keep)
    return keep, report


class LmdbDataset(Dataset):
    """(image tensor, case-folded label) pairs from an LMDB, through ``preprocess``.

    ``frames``: the model's frame count (int) or per-width table (``frame_table``); None skips the
    length check. ``augment(image, rng) -> image`` runs before ``preprocess`` with a generator seeded
    by (``seed``, epoch, sample index), so augmentation does not depend on the number of workers.
    """

    def __init__(self, path: str | Path, preprocess: Preprocess, charset: Charset,
                 frames: int | Sequence[int] | None = None, label_policy: str = "drop",
                 augment: Callable[[Image.Image, np.random.Generator], Image.Image] | None = None,
                 seed: int = 0):
        if label_policy not in LABEL_POLICIES:
            raise ValueError(f"label_policy {label_policy!r} is not one of {LABEL_POLICIES}")
        self.reader = LmdbReader(path)
        self.preprocess, self.charset, self.frames = preprocess, charset, frames
        self.augment, self.seed, self.epoch = augment, seed, 0
        labels = self.reader.labels()
        self.indices, self.label_report = screen_labels(labels, charset, max_frames(frames))
        if label_policy == "error" and self.label_report.counts:
            examples = "; ".join(f"{r}: {ex}" for r, ex in self.label_report.examples.items())
            raise ValueError(f"{path}: {self.label_report.summary()} (e.g. {examples}). Use "
                             f"label_policy='drop' to skip them, or choose a charset/width that fits")
        self.labels = [charset.normalize(labels[i - 1]) for i in self.indices]
        self.reader.close()  # reopened on first read, in this process or a worker

    def __len__(self) -> int:
        return len(self.indices)

    def set_epoch(self, epoch: int) -> None:
        """Call at the start of each epoch so augmentation differs between epochs."""
        self.epoch = epoch

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str] | "Skipped":
        index = self.indices[i]
        try:  # a missing key (SchemaError) is no corrupt image: it propagates, naming the key
            image = decode_image(self.reader.image_bytes(index), f"sample {index} of {self.reader.path}")
        except UnreadableImage as err:
            return Skipped("corrupt_image", index, str(err))
        if self.augment is not None:
            image = self.augment(image, np.random.default_rng([self.seed, self.epoch, index]))
        tensor = self.preprocess(image)
        if isinstance(self.frames, list) and not self.charset.fits(self.labels[i], self.frames[tensor.shape[-1]]):
            return Skipped("too_narrow", index)  # keep-ratio: too few frames for this label at this width
        return tensor, self.labels[i]


@dataclass(frozen=True)
class Skipped:
    """A sample ``__getitem__`` could not produce: ``reason`` is "corrupt_image" or "too_narrow";
    ``detail`` says why in words (the image's error), for a note naming the sample."""
    reason: str
    index: int
    detail: str = ""


@dataclass
class Batch:
    """A CTC batch: ``images`` (B, C, H, W); ``targets`` the concatenated class indices with
    ``target_lengths`` (B,), as ``torch.nn.CTCLoss`` takes them; ``skipped`` counts this batch's
    samples left out, by reason ("corrupt_image": undecodable; "too_narrow": a keep-ratio image too
    narrow for its label), and ``dropped`` lists them (which sample, why). ``images`` is None when
    every sample of the batch was skipped."""
    images: torch.Tensor | None
    targets: torch.Tensor
    target_lengths: torch.Tensor
    labels: list[str]
    skipped: Counter = field(default_factory=Counter)
    dropped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


class CtcCollate:
    """DataLoader ``collate_fn``: drops ``Skipped`` samples (counted by reason), pads widths with
    ``Preprocess.collate`` and encodes labels with the charset."""

    def __init__(self, charset: Charset):
        self.charset = charset

    def __call__(self, items: list[tuple[torch.Tensor, str] | Skipped]) -> Batch:
        kept = [item for item in items if not isinstance(item, Skipped)]
        labels = [label for _, label in kept]
        encoded = [self.charset.encode(label) for label in labels]
        return Batch(
            images=Preprocess.collate([t for t, _ in kept]) if kept else None,
            targets=torch.tensor([c for codes in encoded for c in codes], dtype=torch.long),
            target_lengths=torch.tensor([len(codes) for codes in encoded], dtype=torch.long),
            labels=labels, skipped=Counter(item.reason for item in items if isinstance(item, Skipped)),
            dropped=[item for item in items if isinstance(item, Skipped)])


# ---------------------------------------------------------------- zoo data verify

@dataclass
class VerifyReport(Tally):
    """A full scan: ``samples`` stored (whatever num-samples says), those with a lexicon, the tally of
    undecodable images, labels and lexicons that are not UTF-8, missing keys and label problems
    (``zoo.data.charset.LABEL_PROBLEMS``); ``layout``: one line per break of the public layout (a
    num-samples that is not the count of samples, a missing key, text that is not UTF-8), each of
    which makes the reader, and so eval, train and show, refuse the database."""
    path: str = ""
    num_samples: int = 0
    samples: int = 0
    with_lexicon: int = 0
    layout: list[str] = field(default_factory=list)

    CHECKS = ("undecodable", "not_utf8", "missing_key", "empty", "unknown_chars", "too_long")

    def rows(self) -> list[dict]:
        return ([{"check": "samples", "count": self.samples}, {"check": "num-samples", "count": self.num_samples}]
                + [{"check": c.replace("_", " "), "count": self.counts[c]} for c in self.CHECKS]
                + [{"check": "with lexicon", "count": self.with_lexicon}])


def verify_lmdb(path: str | Path, charset: Charset | None = None, frames: int | None = None,
                progress=None) -> VerifyReport:
    """Decode every image and check every label: empty, characters outside ``charset`` (None skips the
    check), more than ``frames`` CTC frames. num-samples is checked, not trusted: the scan goes on
    past it while samples do, so a count that understates them (0 included) or is negative is a
    ``layout`` problem saying how many samples there are."""
    reader = LmdbReader(path, check_keys=False)  # every problem counted here, not the first raised at open
    count = reader.num_samples
    report = VerifyReport(path=str(path), num_samples=count)
    task = progress.add_task("verifying", total=max(count, 0), unit="img") if progress else None
    with reader._txn() as txn:
        index = 0
        while index < count or any(txn.get(key(index + 1)) is not None for key in (label_key, image_key)):
            index += 1
            _verify_sample(report, index, [txn.get(key(index)) for key in (label_key, image_key, lexicon_key)],
                           charset, frames)
            if progress:
                progress.advance(task)
    reader.close()
    report.samples = index
    report.layout = _layout_problems(report)
    return report


def _verify_sample(report: VerifyReport, index: int, values: list[bytes | None], charset, frames) -> None:
    """Sample ``index``'s checks, from its label, image and lexicon values (None: that key is absent)."""
    raw_label, image, lexicon = values
    for key, value in ((label_key, raw_label), (image_key, image)):
        if value is None:
            report.add("missing_key", index, key(index).decode())
    try:
        label = None if raw_label is None else raw_label.decode("utf-8")
    except UnicodeDecodeError:
        label = None
        report.add("not_utf8", index, raw_label.decode("utf-8", "backslashreplace"))
    if image is not None:
        try:
            decode_image(image)
        except UnreadableImage:
            report.add("undecodable", index, label or "")
    if lexicon is not None:
        report.with_lexicon += 1
        try:
            lexicon.decode("utf-8")
        except UnicodeDecodeError:
            report.add("not_utf8", index, lexicon_key(index).decode())
    if label == "":
        report.add("empty", index, label)
    elif label is not None and charset is not None and (problem := charset.label_problem(label, frames)):
        report.add(problem, index, label)


def _layout_problems(report: VerifyReport) -> list[str]:
    count, stored, problems = report.num_samples, report.samples, []
    anew = "make the database anew from its source with `zoo data import`"
    if count < 0 or stored > count:
        what = (f"'num-samples' is {count}, not a count" if count < 0 else
                f"num-samples ({count}) understates the samples: {label_key(count + 1).decode()} to "
                f"{label_key(stored).decode()} exist too")
        problems.append(f"{what}; it holds {stored} samples: {anew}, or set num-samples to {stored}")
    for check, what in (("missing_key", f"keys of samples 1 to {stored} are missing"),
                        ("not_utf8", "labels or lexicons are not UTF-8")):
        if report.counts[check]:
            shown = ", ".join(f"#{i} {text!r}" for i, text in report.examples[check])
            problems.append(f"{report.counts[check]} {what} (e.g. {shown}): {anew}")
    return problems
