"""What a visualisation runs on: models (shipped weights by name, trained checkpoints, or seeded
untrained registry models when asked for) and images (files, or the image files of a directory with an optional ``gt.txt``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class Subject:
    """One model under study and where its weights came from."""
    label: str
    name: str
    model: torch.nn.Module
    weights: str
    trained: bool


def untrained(name: str, seed: int, **options) -> Subject:
    """The registered model ``name`` with freshly initialised weights, seeded for reproducibility."""
    from zoo.factory import create_model

    torch.manual_seed(seed)
    model = create_model(name, **options).eval()
    return Subject(name, name, model, f"untrained: registry defaults, initialised with seed {seed}", False)


def from_checkpoint(path: str, shown: str) -> Subject:
    """The model saved at ``path``, labelled with ``shown`` (the part of the path that tells it apart)."""
    from zoo.factory import load_model

    model = load_model(path).eval()
    return Subject(f"{model.config.name} ({shown})", model.config.name, model, str(path), True)


def distinguishing_tails(paths: list[str]) -> list[str]:
    """The fewest trailing path parts that tell ``paths`` apart: file names when they differ,
    ``grcnn-s0/best.pt`` and ``grcnn-s1/best.pt`` when several runs' ``best.pt`` are compared."""
    parts = [Path(p).parts for p in paths]
    for count in range(1, max(map(len, parts), default=0) + 1):
        tails = ["/".join(p[-count:]) for p in parts]
        if len(set(tails)) == len(tails):
            return tails
    return [str(p) for p in paths]  # the same path twice: load_subjects says so


def shipped(name: str) -> Subject:
    """The weights the zoo ships for ``name`` (what eval and predict load for a name)."""
    from zoo.checkpoint import REGISTRY_DIR
    from zoo.factory import load_model

    return Subject(name, name, load_model(name), f"shipped: {REGISTRY_DIR / name}.safetensors", True)


def load_subjects(names: list[str], checkpoints: list[str], seed: int = 0, untrained_names: bool = False) -> list[Subject]:
    """Checkpoints, then registered ``names``: their shipped weights, as every verb reads a name (an error
    when none are shipped), or with ``untrained_names`` seeded random weights (``--untrained``)."""
    by_name = (lambda n: untrained(n, seed)) if untrained_names else shipped
    subjects = ([from_checkpoint(p, tail) for p, tail in zip(checkpoints, distinguishing_tails(checkpoints))]
                + [by_name(n) for n in names])
    if not subjects:
        raise ValueError("no model to visualise: pass --models and/or --checkpoints")
    labels = [s.label for s in subjects]
    if len(set(labels)) != len(labels):
        raise ValueError(f"models listed twice: {', '.join(sorted({x for x in labels if labels.count(x) > 1}))}")
    return subjects


@dataclass
class ImageSet:
    paths: list[Path]
    labels: dict[str, str] = field(default_factory=dict)   # file name -> ground-truth word, when known
    found: int = 0                                          # images available before --limit
    ignored: list[str] = field(default_factory=list)        # directory entries that are not images

    def label(self, path: Path) -> str | None:
        return self.labels.get(path.name)


def find_images(specs: list[str], limit: int | None = None) -> ImageSet:
    """Image files from ``specs`` (files and/or directories, in order; a directory contributes its
    image files sorted by name, its other files are listed in ``ignored``), at most ``limit``."""
    paths, labels, ignored = [], {}, []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            entries = sorted(p for p in path.iterdir() if p.is_file())
            paths += [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
            ignored += [str(p) for p in entries if p.suffix.lower() not in IMAGE_SUFFIXES]
            labels.update(read_labels(path))
        elif path.is_file():
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise ValueError(f"{path}: not an image file (expected one of {', '.join(sorted(IMAGE_SUFFIXES))})")
            paths.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image file or directory (--images)")
    if not paths:
        raise ValueError(f"no image files in {', '.join(specs)} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return ImageSet(paths[:limit] if limit else paths, labels, len(paths), ignored)


def read_labels(directory: Path) -> dict[str, str]:
    """``gt.txt`` beside the images (``file<TAB>word`` per line), if there is one."""
    from zoo.fileio import read_utf8

    gt = directory / "gt.txt"
    if not gt.is_file():
        return {}
    pairs = (line.split("\t", 1) for line in read_utf8(gt).splitlines() if "\t" in line)
    return {name: word for name, word in pairs}


def open_image(path: Path) -> Image.Image:
    """The decoded, upright image at ``path`` (``zoo.data.transforms.read_image``): an unreadable one, a
    decompression bomb included, is an error naming it."""
    from zoo.data.transforms import read_image

    return read_image(path)
