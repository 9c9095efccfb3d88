"""What an output may replace: never one of its inputs, never a user's file or folder; only what the
zoo recognises as its own earlier output (a PNG by its text chunk, a table or JSON report by its
provenance, Markdown, HTML and YAML by a first-line comment).

Each check is ``zoo.fileio.atomic_path``'s ``check_replaceable`` hook (``replaces_own``), so the
writers (``save_png``, ``zoo.report.write_table``, ``write_text``, ``to_json``, ``zoo.export``)
apply it whoever calls them;
``refuse_now`` runs the same check before a long job whose output it is.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterable

from zoo.fileio import atomic_path

ZOO_PNG = ("Software", "grcnn-zoo")  # the text chunk of every PNG the zoo writes: what it may replace
ZOO_TEXT = "written by grcnn-zoo"  # the first-line comment of every Markdown, HTML and YAML file it writes
COMMENTS = {".md": "<!-- {} -->", ".html": "<!-- {} -->", ".yaml": "# {}", ".yml": "# {}"}


def _input_in_the_way(target: Path, inputs: Iterable[str | os.PathLike], below: bool) -> tuple[str, str] | None:
    """The first of ``inputs`` that ``target`` is, or holds (``below``: lies inside), with that relation."""
    for path in inputs:
        resolved = Path(path).resolve()
        if resolved == target:
            return str(path), "is"
        if below and resolved in target.parents:
            return str(path), "is inside"
        if not below and target in resolved.parents:
            return str(path), "holds"
    return None


def refuse_input_as_output(out: str | os.PathLike, inputs: Iterable[str | os.PathLike], flag: str = "--out") -> None:
    """Raise when writing ``out`` would replace one of ``inputs`` (``out`` is an input or holds one):
    an output replaces its target, and must never destroy what it is being made from."""
    out = Path(out).resolve()
    found = _input_in_the_way(out, inputs, below=False)
    if found:
        raise ValueError(f"{flag} {out} {found[1]} the input {found[0]}: writing it would destroy what is being "
                         f"read; choose an {flag} outside the inputs")


def refuse_writing_into_input(folder: str | os.PathLike, inputs: Iterable[str | os.PathLike],
                              flag: str = "--out") -> None:
    """Raise when files written into ``folder`` would land in one of ``inputs`` (``folder`` is an
    input or inside one): a report written into an LMDB directory makes it a folder of mixed files."""
    folder = Path(folder).resolve()
    found = _input_in_the_way(folder, inputs, below=True)
    if found:
        raise ValueError(f"{flag} {folder} {found[1]} the input {found[0]}: writing there would change what is "
                         f"being read; choose an {flag} outside the inputs")


def refuse_foreign_file(out: str | os.PathLike, ours: Callable[[Path], bool], flag: str = "--out") -> None:
    """Raise when ``out`` exists and is not something the zoo wrote (``ours`` tells): an output may
    replace the zoo's own earlier output, never a user's file or folder."""
    out = Path(out)
    if out.is_dir():
        raise IsADirectoryError(f"{out} is a folder where a file is to be written; move it away or choose "
                                f"another {flag}")
    if out.exists() and not ours(out):
        raise FileExistsError(f"{out} exists and was not written by the zoo; writing would replace it: "
                              f"remove it yourself or choose another {flag}")


def replaces_own(ours: Callable[[Path], bool], inputs: Iterable[str | os.PathLike] = (),
                 flag: str = "--out") -> Callable[[Path], None]:
    """``atomic_path``'s ``check_replaceable`` for an output: it is none of ``inputs`` (nor a folder
    holding one) and, where something is there already, what ``ours`` recognises as the zoo's."""
    inputs = tuple(inputs)

    def check(target: Path) -> None:
        refuse_input_as_output(target, inputs, flag)
        refuse_foreign_file(target, ours, flag)
    return check


def refuse_now(target: str | os.PathLike, check: Callable[[Path], None]) -> None:
    """Run an output's check now, as ``atomic_path`` will when writing it: a job whose output would
    be refused fails before the work, not after it."""
    target = Path(target)
    if target.exists() or target.is_symlink():
        check(target)


def is_zoo_png(path: Path) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.text.get(ZOO_PNG[0]) == ZOO_PNG[1]
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):  # not an image the zoo wrote
        return False


def save_png(image, path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), flag: str = "--out",
             **savefig) -> Path:
    """Write ``image``, a PIL image or a matplotlib figure (``savefig``: its options, e.g. dpi), as a
    PNG marked as the zoo's (``ZOO_PNG``), atomically; it replaces only a PNG so marked, never one of
    ``inputs``. Every PNG the zoo writes goes through here, so each one may replace the others."""
    with atomic_path(path, replaces_own(is_zoo_png, inputs, flag)) as tmp:
        if hasattr(image, "savefig"):  # a matplotlib figure: its own writer, which takes text chunks as metadata
            image.savefig(tmp, format="png", metadata=dict([ZOO_PNG]), **savefig)
        else:
            from PIL.PngImagePlugin import PngInfo

            info = PngInfo()
            info.add_text(*ZOO_PNG)
            image.save(tmp, "PNG", pnginfo=info)
    return Path(path)


def is_zoo_table(path: Path) -> bool:
    """Whether ``path`` (``stem.md``, ``.csv`` or ``.json``) belongs to a table the zoo wrote
    (``zoo.report.write_table``): its ``stem.json`` is a JSON object with rows and the provenance
    every such table records (``meta.zoo_version``). Markdown and CSV carry no mark of their own (a
    first-line comment would break CSV readers); they are the zoo's when their JSON is."""
    table = _json_object(path.with_suffix(".json"))
    return (table is not None and isinstance(table.get("rows"), list)
            and isinstance(table.get("meta"), dict) and "zoo_version" in table["meta"])


def is_zoo_json(path: Path) -> bool:
    """Whether ``path`` is a JSON object the zoo wrote: every one records its provenance
    (``zoo.report.provenance``, with ``zoo_version``) at its top level or in one of its values
    (a table's ``meta``, a run's ``evaluated``)."""
    value = _json_object(path)
    return value is not None and (
        "zoo_version" in value or any(isinstance(v, dict) and "zoo_version" in v for v in value.values()))


def _json_object(path: Path) -> dict | None:
    """The JSON object in ``path``; None when it is absent, a folder, not text, not JSON or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def marked_text(path: str | os.PathLike, text: str) -> str:
    """``text`` with a first-line comment saying the zoo wrote it, in the comment syntax of the
    format ``path`` names (Markdown, HTML, YAML), unless its first line says so already."""
    comment = COMMENTS.get(Path(path).suffix.lower())
    if comment is None or _names_zoo(text.partition("\n")[0]):
        return text
    return comment.format(ZOO_TEXT) + "\n" + text


def _names_zoo(line: str) -> bool:
    return line.startswith(("#", "<!--")) and "grcnn-zoo" in line


def is_zoo_text(path: Path) -> bool:
    """Whether ``path`` is a text file whose first line is a comment naming the zoo (``marked_text``)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return _names_zoo(handle.readline(500))
    except (OSError, UnicodeDecodeError):
        return False
