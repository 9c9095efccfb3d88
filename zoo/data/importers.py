"""Import labelled word images into the public LMDB layout.

Three source formats, each a text file of one sample per line, image paths relative to that file's
folder and inside it (an absolute path or '..' is refused: a list reads no file elsewhere):

- ``gt``: a folder with ``gt.txt`` of ``file<TAB>word`` (the layout of ../shared/data/ic03);
- ``list``: a file of ``file word`` (first whitespace separates; the word may hold spaces);
- ``index``: ``file i j k ...``, the label as indices into a charset file (the format of Chinese
  CRNN data sets, e.g. a 5990-character set); ``index_base`` says whether line 1 of the charset
  file is index 0 or 1.

A lexicon file (line k: the comma-separated lexicon of sample k, e.g. IC03's ``lexicon_50.txt``) can
travel with the samples. A malformed line, an empty label or a missing/undecodable image is an error
naming the file and line: nothing is skipped silently.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from zoo.data.charset import read_charset_lines
from zoo.data.lmdb import LmdbWriter
from zoo.fileio import listed_image, read_lines

FORMATS = ("auto", "gt", "list", "index")


@dataclass(frozen=True)
class Entry:
    image: Path
    label: str
    where: str  # "file:line", for error messages


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(read_lines(path, "annotations"), 1):
        if line.strip():
            yield number, line


def read_gt(path: Path) -> Iterator[Entry]:
    for number, line in _lines(path):
        name, sep, label = line.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{number}: expected 'file<TAB>word', got {line!r}")
        yield Entry(listed_image(path.parent, name, f"{path}:{number}"), label, f"{path}:{number}")


def read_list(path: Path) -> Iterator[Entry]:
    for number, line in _lines(path):
        parts = line.split(maxsplit=1)
        if len(parts) != 2:
            raise ValueError(f"{path}:{number}: expected 'file word', got {line!r}")
        yield Entry(listed_image(path.parent, parts[0], f"{path}:{number}"), parts[1], f"{path}:{number}")


def read_index(path: Path, charset_file: Path, index_base: int = 0) -> Iterator[Entry]:
    chars = read_charset_lines(charset_file)
    for number, line in _lines(path):
        name, *codes = line.split()
        try:
            positions = [int(code) - index_base for code in codes]
            if any(not 0 <= p < len(chars) for p in positions):
                raise IndexError
        except (ValueError, IndexError) as err:
            raise ValueError(f"{path}:{number}: label indices {codes} are not all integers in "
                             f"{index_base}..{len(chars) - 1 + index_base} (charset {charset_file}, "
                             f"--index-base {index_base})") from err
        yield Entry(listed_image(path.parent, name, f"{path}:{number}"), "".join(chars[p] for p in positions),
                    f"{path}:{number}")


def detect_format(src: Path, charset_file: Path | None) -> tuple[str, Path]:
    """The format and the annotation file of ``src`` (a gt folder, or a list/index file)."""
    if src.is_dir():
        if (src / "gt.txt").is_file():
            return "gt", src / "gt.txt"
        raise FileNotFoundError(f"{src} is a folder without gt.txt; give the folder of a 'file<TAB>word' "
                                f"gt.txt, or the list file itself")
    if not src.is_file():
        raise FileNotFoundError(f"{src} does not exist")
    if charset_file is not None:
        return "index", src
    return ("gt" if src.name == "gt.txt" else "list"), src


def read_entries(src: str | Path, fmt: str = "auto", charset_file: str | Path | None = None,
                 index_base: int = 0) -> list[Entry]:
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {FORMATS}")
    src = Path(src)
    charset_file = Path(charset_file) if charset_file else None
    detected, annotations = detect_format(src, charset_file)
    fmt = detected if fmt == "auto" else fmt
    if fmt == "index":
        if charset_file is None:
            raise ValueError("the index format needs --charset FILE (the characters the indices point to)")
        entries = list(read_index(annotations, charset_file, index_base))
    else:
        entries = list((read_gt if fmt == "gt" else read_list)(annotations))
    empty = [f"{e.where} ({e.image.name})" for e in entries if not e.label]
    if empty:  # refused as a benchmark refuses it: a word image labelled nothing teaches CTC nothing
        raise ValueError(f"{len(empty)} sample(s) have an empty label: {', '.join(empty[:5])}"
                         f"{' ...' if len(empty) > 5 else ''}; write each image's word, or remove its line")
    return entries


def read_lexicons(path: str | Path, count: int) -> list[list[str]]:
    lines = read_lines(path, "lexicon file")
    if len(lines) != count:
        raise ValueError(f"lexicon file {path} has {len(lines)} lines for {count} samples; line k must be "
                         f"the comma-separated lexicon of sample k")
    return [[w.strip() for w in line.split(",") if w.strip()] for line in lines]


def import_dataset(src: str | Path, out: str | Path, fmt: str = "auto", charset_file: str | Path | None = None,
                   index_base: int = 0, lexicon_file: str | Path | None = None, progress=None) -> int:
    """Write the samples of ``src`` to the LMDB ``out`` (atomically); returns the count. ``out`` may
    not be (or hold) any input: the annotation, lexicon or charset file, or a folder of the images."""
    entries = read_entries(src, fmt, charset_file, index_base)
    if not entries:
        raise ValueError(f"{src}: no samples found")
    # the images' folders stand for the images (a few paths to check, not one per image)
    inputs = [src, *(f for f in (lexicon_file, charset_file) if f), *sorted({entry.image.parent for entry in entries})]
    lexicons = read_lexicons(lexicon_file, len(entries)) if lexicon_file else [None] * len(entries)
    task = progress.add_task("importing", total=len(entries), unit="img") if progress else None
    with LmdbWriter(out, inputs=inputs) as writer:
        for entry, lexicon in zip(entries, lexicons):
            if not entry.image.is_file():
                raise FileNotFoundError(f"{entry.where}: image {entry.image} does not exist")
            writer.add(entry.image.read_bytes(), entry.label, lexicon, name=f"{entry.where} ({entry.image.name})")
            if progress:
                progress.advance(task)
    return writer.count
