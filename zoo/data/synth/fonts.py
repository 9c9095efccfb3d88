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
filter (``judge_fonts``) decides from each font's own renderings of a-z, A-Z, 0-9, compared with a few
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
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fontTools import agl
from fontTools.ttLib import TTCollection, TTFont, TTLibError
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from zoo.fileio import atomic_path

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
COLLECTION_SUFFIXES = (".ttc", ".otc")
SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
RECOMMENDED_STYLES = 30
DEBIAN_FONTS = Path(__file__).with_name("debian_fonts.txt")
_READ_ERRORS = (TTLibError, KeyError, OSError, AssertionError, ValueError, IndexError, TypeError)


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


def _stamp(path: str | Path) -> list[int]:
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
    except _READ_ERRORS:
        return None
    faces = []
    for face in range(count):
        try:
            faces.append(_read_face(path, face))
        except _READ_ERRORS:
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
        key, stamp = str(path), _stamp(path)
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
    ``judge_fonts`` says which are fit to train on."""
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


# --- the quality filter ------------------------------------------------------------------------------

ALNUM62 = string.ascii_lowercase + string.ascii_uppercase + string.digits
FILTER_PX = 48       # glyphs are judged at this size: big enough for hairlines and small details
CELL = 24            # and compared with the reference glyphs as CELL x CELL ink crops
# upright and italic, regular and bold, sans and serif: text faces a legible font resembles
REFERENCE_FACES = (("Roboto", "Regular"), ("Roboto", "Black"), ("Roboto", "Italic"), ("Source Serif Pro", "Regular"),
                   ("Source Serif Pro", "Bold"), ("Source Serif Pro", "Italic"))
INK = 64               # a pixel at least this dark (of 255) is ink: hairlines of thin weights count
BLUR = 1.0             # Gaussian radius on the CELL x CELL crops
MEASURE_VERSION = "5"  # bump when what measure_font computes changes (the cached measurements go)
MAX_BOXES = 3          # glyphs that are solid blocks of ink (a bold I, l or 1 alone is fine)
MAX_SHARED = 3         # letters drawn exactly like another (O/0, l/1, S/5 in some display faces)
MAX_RENAMED = 5        # glyphs named for another character (a misnamed digit or two is harmless)
MIN_LETTERLIKE = 0.45  # thresholds chosen on the contact sheet of Debian's fonts: docs/data.md#fonts
MIN_RECOGNISED = 0.3
CLASSES = string.ascii_lowercase + string.digits  # a glyph may look like its letter in either case
_FORMS = np.array([[ALNUM62.index(c), ALNUM62.index(c.upper())] for c in CLASSES])  # (36, 2) into ALNUM62


@dataclass(frozen=True)
class FontVerdict:
    """``kind`` is "accepted" or the first failed check: unreadable, zero_advance, empty, box, shared,
    symbol, unlike, missing (``verdict`` lists them in order)."""
    kind: str
    reason: str        # for a person; "" when accepted
    letterlike: float  # mean over glyphs of the best correlation with a reference glyph of the same letter
    recognised: float  # share of glyphs whose own letter is among the 3 of 36 most similar reference letters
    caps_only: bool    # lower case drawn as (small) capitals: right for case-folding charsets only

    @property
    def accepted(self) -> bool:
        return self.kind == "accepted"


def _ink(font: ImageFont.FreeTypeFont, char: str) -> np.ndarray:
    left, top, right, bottom = font.getbbox(char)
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(mask).text((-left, -top), char, font=font, fill=255)
    return np.asarray(mask)


def _crop(ink: np.ndarray) -> np.ndarray | None:
    """The glyph cut to its ink; None when it has (next to) none."""
    ys, xs = np.nonzero(ink >= INK)
    if len(ys) < 3:
        return None
    return ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _aspect(crop: np.ndarray) -> float:
    return crop.shape[1] / crop.shape[0]


def _cell(crop: np.ndarray, squeeze: float = 1.0) -> np.ndarray:
    """The crop narrowed by ``squeeze`` (a font's width relative to the reference: condensed and
    extended faces are letters too), centred in a square (an l stays a bar), CELL x CELL and blurred
    (stroke weight and small offsets matter less), with zero mean and unit norm: the dot product of
    two cells is their correlation."""
    height, width = crop.shape
    if squeeze != 1.0:
        crop = np.asarray(Image.fromarray(crop).resize((max(1, round(width / squeeze)), height), Image.BILINEAR))
    side = max(crop.shape)
    square = np.zeros((side, side), np.uint8)
    y0, x0 = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
    small = Image.fromarray(square).resize((CELL, CELL), Image.BILINEAR).filter(ImageFilter.GaussianBlur(BLUR))
    cell = np.asarray(small, np.float32).ravel()
    cell -= cell.mean()
    norm = np.linalg.norm(cell)
    return cell / norm if norm > 0 else cell


def _is_box(crop: np.ndarray) -> bool:
    """Solid ink over the whole bounding box, which is not a thin bar (a bold I, l or 1)."""
    return float((crop >= INK).mean()) > 0.97 and 0.4 < _aspect(crop) < 2.5


@functools.lru_cache(maxsize=1)
def _reference_fonts() -> tuple[FontInfo, ...]:
    """The reference faces, from the PyPI packages (always installed)."""
    fonts = {(f.family, f.style): f for f in discover_fonts(system=False)[0]}
    chosen = tuple(fonts[name] for name in REFERENCE_FACES if name in fonts)
    if not chosen:
        raise FileNotFoundError("the font filter's reference fonts (Roboto, Source Serif Pro) are missing: "
                                "reinstall the package (`pip install -e .`) or pass font_filter=False")
    return chosen


def _reference_digest() -> str:
    """Names and sizes of the reference fonts: a measurement holds for these only."""
    fonts = [(f.name, _stamp(f.path)[0]) for f in _reference_fonts()]
    return hashlib.sha256(repr(fonts).encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def _reference_cells() -> tuple[np.ndarray, np.ndarray]:
    """Cells of the 62 alphanumerics in each reference face, (faces, 62, CELL * CELL), and the
    aspect ratios of the first face's glyphs (62,)."""
    crops = [[_crop(_ink(f.open(FILTER_PX), c)) for c in ALNUM62] for f in _reference_fonts()]
    return np.stack([[_cell(crop) for crop in face] for face in crops]), np.array([_aspect(c) for c in crops[0]])


def _likeness(cells: np.ndarray, chars: str, reference: np.ndarray) -> dict:
    """How much the glyphs look like the reference glyphs of their own letter, in either case (small
    capitals are letters too), whether they look more like it than like other letters, and whether
    the lower case is drawn as capitals."""
    if not chars:
        return {"letterlike": 0.0, "recognised": 0.0, "caps_only": False}
    scores = (reference @ cells.T).max(0).T  # (n, 62): each glyph against each reference glyph, best face
    by_class = scores[:, _FORMS].max(2)      # (n, 36)
    rows = np.arange(len(chars))
    mine = by_class[rows, [CLASSES.index(c.lower()) for c in chars]]
    rank = (by_class > mine[:, None]).sum(1)
    # letters whose capital is another shape (a/A, g/G; not o/O): does the font's lower case match it?
    ref = reference[0]
    lower = [(i, ALNUM62.index(c), ALNUM62.index(c.upper())) for i, c in enumerate(chars) if c.islower()]
    caps = [scores[i, up] > scores[i, low] for i, low, up in lower if ref[low] @ ref[up] < 0.7]
    return {"letterlike": round(float(mine.mean()), 4), "recognised": round(float((rank < 3).mean()), 4),
            "caps_only": bool(caps) and float(np.mean(caps)) > 0.5}


def _shared(raw: dict[str, bytes]) -> tuple[str, int]:
    """Glyphs drawn exactly like a glyph of another letter (their own other case aside), and how many
    letters lose their own drawing that way (l = I = 1 counts 2)."""
    letters: dict[bytes, set[str]] = {}
    for char, bitmap in raw.items():
        letters.setdefault(bitmap, set()).add(char.lower())
    shared = "".join(c for c, bitmap in raw.items() if len(letters[bitmap]) > 1)
    return shared, sum(len(group) - 1 for group in letters.values())


def _bitmap_checks(font: ImageFont.FreeTypeFont, inks: dict[str, np.ndarray], crops: dict) -> dict:
    """What the glyph bitmaps alone say: no advance width (every glyph drawn on the same spot), no
    ink, solid boxes, glyphs shared between letters, and a/A pairs drawn alike (small capitals)."""
    raw = {c: ink.tobytes() + repr(ink.shape).encode() for c, ink in inks.items()}
    shared, collisions = _shared(raw)
    return {"zero_advance": "".join(c for c in inks if font.getlength(c) < 1),
            "empty": "".join(c for c in inks if crops[c] is None),
            "boxes": "".join(c for c in inks if crops[c] is not None and _is_box(crops[c])),
            "shared": shared, "collisions": collisions,
            "case_pairs": sum(c in raw and c.upper() in raw and raw[c] == raw[c.upper()]
                              for c in string.ascii_lowercase)}


def _renamed(info: FontInfo) -> list[str]:
    """Alphanumerics whose glyph is named for another character ("a>alpha"; Adobe Glyph List names):
    a symbol font that puts Greek letters or pictures on Latin codepoints, however letter-like."""
    try:
        font = TTFont(info.path, lazy=True, fontNumber=info.face)
        cmap = font.getBestCmap() or {}
        font.close()
    except _READ_ERRORS:
        return []
    renamed = []
    for char in ALNUM62:
        name = cmap.get(ord(char), "").split(".")[0]
        meaning = agl.toUnicode(name) if name else ""
        if len(meaning) == 1 and meaning.isalnum() and meaning not in (char, char.swapcase()):
            renamed.append(f"{char}>{name}")
    return renamed


def _shape_scores(crops: dict) -> dict:
    """Likeness to the reference glyphs, once the font's width is brought to the reference's (the
    median over its glyphs of the aspect ratio relative to the reference's same glyph)."""
    inked = "".join(c for c, crop in crops.items() if crop is not None)
    reference, aspects = _reference_cells()
    ratios = [_aspect(crops[c]) / aspects[ALNUM62.index(c)] for c in inked]
    squeeze = min(max(float(np.median(ratios)), 0.25), 4.0) if inked else 1.0
    cells = np.stack([_cell(crops[c], squeeze) for c in inked]) if inked else np.zeros((0, CELL * CELL), np.float32)
    return {"squeeze": round(squeeze, 3), **_likeness(cells, inked, reference)}


def measure_font(info: FontInfo) -> dict:
    """What the filter decides from: the font's cmap and its renderings of the 62 alphanumerics."""
    present = "".join(c for c in ALNUM62 if ord(c) in info.codepoints)
    measured = {"glyphs": len(present), "missing": "".join(c for c in ALNUM62 if c not in present)}
    try:
        font = info.open(FILTER_PX)
        inks = {c: _ink(font, c) for c in present}
    except OSError as error:
        return {**measured, "error": f"FreeType cannot render it ({error})"}
    crops = {c: _crop(ink) for c, ink in inks.items()}
    return {**measured, "renamed": _renamed(info), **_bitmap_checks(font, inks, crops), **_shape_scores(crops)}


def verdict(m: dict) -> FontVerdict:
    """The first failed check of a font's measurements, the most certain checks first."""
    scores = (m.get("letterlike", 0.0), m.get("recognised", 0.0), m.get("caps_only", False))
    if "error" in m:
        return FontVerdict("unreadable", m["error"], *scores)
    judged = m["glyphs"] > 0  # a font without Latin alphanumerics (CJK, Arabic) has no shapes to judge
    checks = (
        ("zero_advance", m["zero_advance"], f"glyphs without advance width: {_span(m['zero_advance'])}"),
        ("empty", m["empty"], f"glyphs without ink: {_span(m['empty'])}"),
        ("box", len(m["boxes"]) > MAX_BOXES, f"solid boxes for {_span(m['boxes'])}"),
        ("shared", m["collisions"] > MAX_SHARED, f"letters drawn alike: {_span(m['shared'])}"),
        ("symbol", len(m["renamed"]) > MAX_RENAMED, f"glyphs named for other characters: {_span(m['renamed'])}"),
        ("unlike", judged and m["letterlike"] < MIN_LETTERLIKE,
         f"not letter-like: similarity {m['letterlike']:.2f} < {MIN_LETTERLIKE}"),
        ("unlike", judged and m["recognised"] < MIN_RECOGNISED,
         f"not letter-like: {m['recognised']:.0%} of glyphs nearest their own letter (< {MIN_RECOGNISED:.0%})"),
        ("missing", m["missing"], f"no glyph for {_span(m['missing'])}"),
    )
    for kind, failed, reason in checks:
        if failed:
            return FontVerdict(kind, reason, *scores)
    return FontVerdict("accepted", "", *scores)


def _span(chars: str | list[str]) -> str:
    """The first few of a list of glyphs, and how many there are."""
    if isinstance(chars, list):
        return ", ".join(chars) if len(chars) <= 4 else f"{', '.join(chars[:4])}, ... ({len(chars)} of 62)"
    return chars if len(chars) <= 12 else f"{chars[:12]}... ({len(chars)} of 62)"


def judge_fonts(fonts, progress=None) -> list[FontVerdict]:
    """The filter's verdict on each font. Measurements are cached per (file, face) while the file keeps
    its size and mtime, and thresholds apply afterwards, so changing a threshold costs nothing."""
    cache = StampedCache("fonts-filter.json", f"{MEASURE_VERSION}:{_reference_digest()}")
    keys = [(f"{info.path}#{info.face}", _stamp(info.path)) for info in fonts]
    new = [i for i, (key, stamp) in enumerate(keys) if cache.get(key, stamp) is None]
    task = progress.add_task("judging fonts", total=len(new), unit="font") if progress and new else None
    for i in new:  # about 10 ms a font, once
        cache.put(*keys[i], measure_font(fonts[i]))
        if task is not None:
            progress.advance(task)
    cache.save()
    return [verdict(cache.get(key, stamp)) for key, stamp in keys]


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
    lines = [f"{f.family}\t{f.style}\t{f.face}\t{Path(f.path).name}\t{_stamp(f.path)[0]}" for f in fonts]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


# --- a contact sheet for a person to check the filter -------------------------------------------------

SHEET_TEXT = "Hamburg 0123 AaGgQqRr"
SHEET_CELL = (470, 54)  # width, height of one font's sample and caption


def _sheet_cell(info: FontInfo, judged: FontVerdict, label_font) -> Image.Image:
    cell = Image.new("RGB", SHEET_CELL, "white")
    draw = ImageDraw.Draw(cell)
    caption = f"{info.name}  [{judged.letterlike:.2f} / {judged.recognised:.0%}]  {judged.reason}"
    draw.text((4, 2), caption[:90], fill=(90, 90, 90), font=label_font)
    try:
        draw.text((4, 16), SHEET_TEXT, fill="black", font=info.open(30))
    except OSError:
        draw.text((4, 20), "(FreeType cannot open this face)", fill=(200, 0, 0), font=label_font)
    return cell


def _margin(judged: FontVerdict) -> float:
    """How far a font is from the letter-likeness thresholds (negative: below one)."""
    return min(judged.letterlike - MIN_LETTERLIKE, judged.recognised - MIN_RECOGNISED)


def font_sheet(fonts, verdicts, limit: int = 120, columns: int = 2) -> Image.Image:
    """Accepted fonts on the left, rejected ones on the right (those missing glyphs or unreadable
    left out: nothing to see), each side nearest the thresholds first, as a person checking the
    filter wants them."""
    pairs = list(zip(fonts, verdicts))
    accepted = sorted((p for p in pairs if p[1].accepted), key=lambda p: _margin(p[1]))[:limit]
    rejected = sorted((p for p in pairs if p[1].kind not in ("accepted", "missing", "unreadable")),
                      key=lambda p: -_margin(p[1]))[:limit]
    label_font = _reference_fonts()[0].open(11)
    width, height = SHEET_CELL
    rows = max(1, -(-max(len(accepted), len(rejected)) // columns))
    sheet = Image.new("RGB", (2 * columns * width + 20, rows * height + 30), "white")
    draw = ImageDraw.Draw(sheet)
    for side, (title, items) in enumerate((("accepted", accepted), ("rejected", rejected))):
        x0 = side * (columns * width + 20)
        draw.text((x0 + 4, 6), f"{title}: {len(items)} shown, nearest the thresholds first", fill="black",
                  font=label_font)
        for k, (info, judged) in enumerate(items):
            sheet.paste(_sheet_cell(info, judged, label_font), (x0 + (k // rows) * width, 30 + (k % rows) * height))
    draw.line((columns * width + 10, 0, columns * width + 10, sheet.height), fill=(200, 0, 0), width=2)
    return sheet
