"""The font quality filter: which fonts are fit to draw training words, decided from each font's own
renderings of a-z, A-Z, 0-9 compared with a few reference text faces from the PyPI packages, never
from any data set; and a contact sheet of the verdicts for a person to check them.

A font is rejected when glyphs are missing, empty or solid boxes, when letters are drawn alike (every
glyph the same picture), when glyphs are named for other characters, or when its letters look like
no letter (pictures, dingbats, ornamental capitals): thresholds chosen on the contact sheet of
Debian's fonts (docs/data.md#fonts). Measurements are cached per font file (path, size, mtime).
"""
from __future__ import annotations

import functools
import hashlib
import string
from dataclasses import dataclass

import numpy as np
from fontTools import agl
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from zoo.data.synth.fonts import READ_ERRORS, FontInfo, StampedCache, discover_fonts, file_stamp

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
    fonts = [(f.name, file_stamp(f.path)[0]) for f in _reference_fonts()]
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
    except READ_ERRORS:
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
    keys = [(f"{info.path}#{info.face}", file_stamp(info.path)) for info in fonts]
    new = [i for i, (key, stamp) in enumerate(keys) if cache.get(key, stamp) is None]
    task = progress.add_task("judging fonts", total=len(new), unit="font") if progress and new else None
    for i in new:  # about 10 ms a font, once
        cache.put(*keys[i], measure_font(fonts[i]))
        if task is not None:
            progress.advance(task)
    cache.save()
    return [verdict(cache.get(key, stamp)) for key, stamp in keys]



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
