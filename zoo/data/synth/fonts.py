"""Fonts for the renderer: whatever this machine has, found in three places, and a quality filter.

1. PyPI font packages (distributions named ``font-*``; this project depends on twelve of them, OFL or
   Apache licensed: Roboto, Lato, Red Hat Display, Source Sans Pro, Source Serif Pro, Hanken Grotesk,
   Manrope, Caladea, Amatic SC, Fjalla One, Fredoka One, Intuitive), so ``pip install -e .`` brings
   them;
2. the system's font directories (Debian ``fonts-*`` packages install there: ``debian_fonts.txt``
   beside this file is the curated list, ``zoo data fonts --install`` installs it);
3. any directories the user names (``--fonts DIR``).

A font is one face, identified by its (family, style) name; duplicates (a .ttf beside the same .otf,
a variable font beside its instances) count once. A .ttc/.otc collection gives every face in it.
Glyph coverage is read from the font's cmap with fontTools, so a word is only ever drawn in a font
that has all of its characters.

Decorative font sets mix legible display faces with pictures, dingbats and ornamental capitals. The
filter (``font_filter.judge_fonts``) decides from each font's own renderings of a-z, A-Z, 0-9, compared with a few
reference text faces from the PyPI packages, never from any data set. Reading fonts and rendering
them is slow for a thousand files, so both are cached per file (path, size, mtime) under
``~/.cache/grcnn-zoo``.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont, TTLibError
from PIL import ImageFont

from zoo.fileio import atomic_path

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
COLLECTION_SUFFIXES = (".ttc", ".otc")
SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
RECOMMENDED_STYLES = 30
DEBIAN_FONTS = Path(__file__).with_name("debian_fonts.txt")
READ_ERRORS = (TTLibError, KeyError, OSError, AssertionError, ValueError, IndexError, TypeError)


@dataclass(frozen=True)
class FontInfo:
    path: str
    family: str
    style: str
    source: str          # "pypi:<distribution>", "system" or "user"
    codepoints: frozenset[int]
    weight: int = 400    # OS/2 usWeightClass: 100 thin/hairline ... 400 regular ... 900 black
    face: int = 0        # index of the face in a .ttc/.otc collection (0 in a single-font file)
    licence: str = ""    # from the font's name table (IDs 13/14), shortened; "" if it does not say

    @property
    def name(self) -> str:
        return f"{self.family} {self.style}"

    def covers(self, text: str) -> bool:
        return all(ord(c) in self.codepoints for c in text)

    def open(self, size: int, layout_engine=ImageFont.Layout.BASIC) -> ImageFont.FreeTypeFont:
        """The FreeType face at ``size`` px (the right face of a collection)."""
        return ImageFont.truetype(self.path, size, index=self.face, layout_engine=layout_engine)


# --- caches ------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grcnn-zoo"


def file_stamp(path: str | Path) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


class StampedCache:
    """A JSON file of values keyed by font file, each valid while that file keeps its size and mtime.
    Written atomically: concurrent renders may lose each other's new entries (recomputed next time),
    never read a torn file. An unwritable cache directory only costs the recomputation."""

    def __init__(self, name: str, version: str):
        self.path, self.version, self.dirty = cache_dir() / name, version, False
        try:
            data = json.loads(self.path.read_text())
            self.entries = data["entries"] if data.get("version") == version else {}
        except (OSError, ValueError, KeyError, TypeError):
            self.entries = {}

    def get(self, key: str, stamp: list[int]):
        entry = self.entries.get(key)
        return entry["value"] if entry and entry["stamp"] == stamp else None

    def put(self, key: str, stamp: list[int], value) -> None:
        self.entries[key] = {"stamp": stamp, "value": value}
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        # fonts that were uninstalled since leave the cache
        entries = {key: value for key, value in self.entries.items()
                   if os.path.exists(key) or os.path.exists(key.rsplit("#", 1)[0])}
        try:
            with atomic_path(self.path) as tmp:
                tmp.write_text(json.dumps({"version": self.version, "entries": entries}))
            self.dirty = False
        except OSError:
            pass


# --- discovery ---------------------------------------------------------------------------------------

def _pypi_font_files() -> list[tuple[Path, str]]:
    found = []
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name.startswith("font-"):
            found += [(Path(f.locate()), f"pypi:{name}") for f in dist.files or ()
                      if str(f).lower().endswith(FONT_SUFFIXES)]
    return found


def _dir_font_files(directories, source: str) -> list[tuple[Path, str]]:
    found = []
    for directory in directories:
        root = Path(os.path.expanduser(directory))
        if root.is_dir():
            found += [(p, source) for p in sorted(root.rglob("*")) if p.suffix.lower() in FONT_SUFFIXES]
    return found


LICENCES = (  # (substring of the licence text, short name); first match wins, so the order matters
    ("open font license", "OFL-1.1"), ("scripts.sil.org/ofl", "OFL-1.1"), ("openfontlicense", "OFL-1.1"),
    ("apache", "Apache-2.0"), ("gust font", "GUST-Font-License"), ("latex project public", "LPPL"),
    ("lppl", "LPPL"), ("affero", "AGPL-3.0"), ("lesser general public", "LGPL"),
    ("font exception", "GPL+font-exception"), ("general public license", "GPL"), ("gpl", "GPL"),
    ("liberation fonts license", "Liberation-Fonts-License"), ("paratype", "ParaType-Free-Font-License"),
    ("bitstream", "Bitstream-Vera"), ("vera license", "Bitstream-Vera"), ("dejavu-fonts.org", "Bitstream-Vera"),
    ("redistribution and use in source and binary forms", "BSD-style"),
    ("permission is hereby granted", "MIT-style"), ("ubuntu font licen", "UFL-1.0"),
    ("creative commons", "CC"), ("public domain", "public-domain"), ("mit license", "MIT"),
)


_SHORT_NAMES = {name for _, name in LICENCES} | {""}


def _licence_name(text: str) -> str:
    lowered = " ".join(text.lower().replace("_", " ").split())
    return next((name for needle, name in LICENCES if needle in lowered), "")


def short_licence(text: str) -> str:
    """A short licence name for a licence text or URL (the name table's IDs 13/14, a copyright file)."""
    return _licence_name(text) or " ".join(text.split())[:60]


def _read_face(path: Path, face: int) -> dict:
    font = TTFont(str(path), lazy=True, fontNumber=face)
    try:
        names = font["name"]
        licence = " ".join(str(names.getDebugName(i) or "") for i in (13, 14)).strip()
        return {"family": names.getBestFamilyName() or path.stem,
                "style": names.getBestSubFamilyName() or "Regular",
                "weight": font["OS/2"].usWeightClass if "OS/2" in font else 400,
                "licence": _licence_name(licence) or licence[:500],  # shortened again on use: LICENCES may grow
                "ranges": _ranges(font.getBestCmap() or ())}
    finally:
        font.close()


def _read_file(path: Path) -> list[dict | None] | None:
    """Every face of a font file (None for a face fontTools cannot read); None for an unreadable file."""
    try:
        if path.suffix.lower() in COLLECTION_SUFFIXES:
            collection = TTCollection(str(path), lazy=True)
            count = len(collection.fonts)
            collection.close()
        else:
            count = 1
    except READ_ERRORS:
        return None
    faces = []
    for face in range(count):
        try:
            faces.append(_read_face(path, face))
        except READ_ERRORS:
            faces.append(None)
    return faces


def _ranges(codepoints) -> list[list[int]]:
    """Codepoints as [first, last] runs: a CJK cmap of 30,000 codepoints is a few hundred runs."""
    runs: list[list[int]] = []
    for cp in sorted(codepoints):
        if runs and cp == runs[-1][1] + 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    return runs


def _codepoints(runs: list[list[int]]) -> frozenset[int]:
    return frozenset(cp for first, last in runs for cp in range(first, last + 1))


def _info(path: str, source: str, face: int, meta: dict) -> FontInfo:
    licence = meta["licence"] if meta["licence"] in _SHORT_NAMES else short_licence(meta["licence"])
    return FontInfo(path, meta["family"], meta["style"], source, _codepoints(meta["ranges"]), meta["weight"],
                    face, licence)


def font_files(extra_dirs: tuple[str, ...] = (), system: bool = True) -> list[tuple[Path, str]]:
    """Every font file with its source, .ttf before .otf (so an identical font shipped in both
    formats is used as TrueType)."""
    missing = [d for d in extra_dirs if not Path(os.path.expanduser(d)).is_dir()]
    if missing:  # a folder the user names is never skipped in silence (the system's may be absent)
        raise FileNotFoundError(f"--fonts {', '.join(missing)}: no such folder; give folders holding .ttf, .otf "
                                f"or .ttc files")
    files = _pypi_font_files()
    if system:
        files += _dir_font_files(SYSTEM_FONT_DIRS, "system")
    files += _dir_font_files(extra_dirs, "user")
    return sorted(files, key=lambda f: (f[0].suffix.lower() != ".ttf", str(f[0])))


def read_faces(files: list[tuple[Path, str]]) -> tuple[list[FontInfo], list[str]]:
    """Every face of every file (duplicates included) and the files (or ``file#face``) that could not
    be read; names and cmaps come from the cache while a file keeps its size and mtime."""
    cache = StampedCache("fonts-meta.json", "3")
    faces, unreadable = [], []
    for path, source in files:
        key, stamp = str(path), file_stamp(path)
        metas = cache.get(key, stamp)
        if metas is None:
            metas = _read_file(path)
            cache.put(key, stamp, metas)
        if metas is None:
            unreadable.append(key)
        for face, meta in enumerate(metas or ()):
            if meta is None:
                unreadable.append(f"{key}#{face}")
            else:
                faces.append(_info(key, source, face, meta))
    cache.save()
    return faces, unreadable


@functools.lru_cache(maxsize=8)
def discover_fonts(extra_dirs: tuple[str, ...] = (), system: bool = True) -> tuple[tuple[FontInfo, ...], tuple[str, ...]]:
    """All fonts (one per (family, style)), sorted by name, and what could not be read. Unfiltered:
    ``font_filter.judge_fonts`` says which are fit to train on."""
    faces, unreadable = read_faces(font_files(extra_dirs, system))
    by_name: dict[tuple[str, str], FontInfo] = {}
    for info in faces:
        if "variable" not in Path(info.path).name.lower():  # a variable font repeats its named instances
            by_name.setdefault((info.family, info.style), info)
    fonts = tuple(sorted(by_name.values(), key=lambda f: (f.family, f.style)))
    return fonts, tuple(unreadable)


def debian_font_packages() -> list[str]:
    """The curated Debian font packages of ``debian_fonts.txt`` (one a line, "#" comments)."""
    lines = DEBIAN_FONTS.read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def font_warning(fonts: list[FontInfo]) -> str | None:
    """A sentence for the user when there are fewer font styles than a varied training set wants."""
    if len(fonts) >= RECOMMENDED_STYLES:
        return None
    families = len({f.family for f in fonts})
    return (f"only {len(fonts)} font styles ({families} families) are usable; MJSynth-like variety wants "
            f"{RECOMMENDED_STYLES}+: `pip install -e .` installs twelve font packages, `zoo data fonts "
            f"--install` the Debian ones of docs/data.md (or pass --fonts DIR)")


# --- the font manifest recorded with every rendered data set ------------------------------------------

@functools.lru_cache(maxsize=1)
def _dpkg_owners() -> dict[str, str]:
    """Font file -> Debian package, from dpkg's file lists, read once ({} off Debian)."""
    owners = {}
    for listing in Path("/var/lib/dpkg/info").glob("*.list"):
        package = listing.stem.split(":")[0]  # "libfoo:amd64.list" -> "libfoo"
        try:
            lines = listing.read_text(errors="replace").splitlines()
        except OSError:
            continue
        owners.update((line, package) for line in lines if line.lower().endswith(FONT_SUFFIXES))
    return owners


def debian_package(path: str) -> str | None:
    owners = _dpkg_owners()
    return owners.get(path) or owners.get(os.path.realpath(path))


@functools.lru_cache(maxsize=None)
def package_licence(package: str) -> str:
    """The first ``License:`` of a Debian package's copyright file, shortened."""
    try:
        lines = Path(f"/usr/share/doc/{package}/copyright").read_text(errors="replace").splitlines()
    except OSError:
        return ""
    found = next((line.split(":", 1)[1] for line in lines if line.startswith("License:")), "")
    # an old, free-form copyright file: a licence named anywhere in it
    return short_licence(found) if found.strip() else _licence_name(" ".join(lines))


def font_manifest(fonts) -> list[dict]:
    """Per font: what it is, where it came from and under which licence (the font's own name table
    first, else its Debian package's copyright file)."""
    rows = []
    for f in fonts:
        package = debian_package(f.path) if f.source == "system" else None
        rows.append({"family": f.family, "style": f.style, "file": f.path, "face": f.face, "source": f.source,
                     "package": package, "licence": f.licence or (package_licence(package) if package else "")})
    return rows


def font_set_digest(fonts) -> str:
    """A short digest of the font list in the renderer's order (names, faces, file names and sizes):
    a seed renders the same data set only with the same digest."""
    lines = [f"{f.family}\t{f.style}\t{f.face}\t{Path(f.path).name}\t{file_stamp(f.path)[0]}" for f in fonts]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]
