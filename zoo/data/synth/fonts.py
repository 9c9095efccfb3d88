"""Fonts for the renderer: whatever this machine has, found in three places.

1. PyPI font packages (distributions named ``font-*``; this project depends on twelve of them, OFL or
   Apache licensed: Roboto, Lato, Red Hat Display, Source Sans Pro, Source Serif Pro, Hanken Grotesk,
   Manrope, Caladea, Amatic SC, Fjalla One, Fredoka One, Intuitive), so ``pip install -e .`` brings
   them;
2. the system's font directories (Debian ``fonts-*`` packages install there; see docs/data.md);
3. any directories the user names (``--fonts DIR``).

A font is identified by its (family, style) name; duplicates (a .ttf beside the same .otf, a variable
font beside its instances) count once. Glyph coverage is read from the font's cmap with fontTools, so
a word is only ever drawn in a font that has all of its characters.
"""
from __future__ import annotations

import functools
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError

FONT_SUFFIXES = (".ttf", ".otf")
SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
RECOMMENDED_STYLES = 30


@dataclass(frozen=True)
class FontInfo:
    path: str
    family: str
    style: str
    source: str          # "pypi:<distribution>", "system" or "user"
    codepoints: frozenset[int]
    weight: int = 400    # OS/2 usWeightClass: 100 thin/hairline ... 400 regular ... 900 black

    @property
    def name(self) -> str:
        return f"{self.family} {self.style}"

    def covers(self, text: str) -> bool:
        return all(ord(c) in self.codepoints for c in text)


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


def read_font(path: Path, source: str) -> FontInfo | None:
    """Name and cmap of a font file; None for a file fontTools cannot read (reported by the caller)."""
    try:
        font = TTFont(str(path), lazy=True, fontNumber=0)
        names = font["name"]
        family = names.getBestFamilyName() or path.stem
        style = names.getBestSubFamilyName() or "Regular"
        codepoints = frozenset(font.getBestCmap() or ())
        weight = font["OS/2"].usWeightClass if "OS/2" in font else 400
        font.close()
    except (TTLibError, KeyError, OSError, AssertionError, ValueError):
        return None
    return FontInfo(str(path), family, style, source, codepoints, weight)


@functools.lru_cache(maxsize=8)
def discover_fonts(extra_dirs: tuple[str, ...] = (), system: bool = True) -> tuple[tuple[FontInfo, ...], tuple[str, ...]]:
    """All usable fonts, sorted by name, and the files that could not be read."""
    files = _pypi_font_files()
    if system:
        files += _dir_font_files(SYSTEM_FONT_DIRS, "system")
    files += _dir_font_files(extra_dirs, "user")
    by_name: dict[tuple[str, str], FontInfo] = {}
    unreadable = []
    # .ttf before .otf, so an identical font shipped in both formats is used as TrueType
    for path, source in sorted(files, key=lambda f: (f[0].suffix.lower() != ".ttf", str(f[0]))):
        info = read_font(path, source)
        if info is None:
            unreadable.append(str(path))
        elif "variable" not in path.name.lower():  # a variable font repeats its named instances
            by_name.setdefault((info.family, info.style), info)
    fonts = tuple(sorted(by_name.values(), key=lambda f: (f.family, f.style)))
    return fonts, tuple(unreadable)


def font_warning(fonts: list[FontInfo]) -> str | None:
    """A sentence for the user when there are fewer font styles than a varied training set wants."""
    if len(fonts) >= RECOMMENDED_STYLES:
        return None
    families = len({f.family for f in fonts})
    return (f"only {len(fonts)} font styles ({families} families) are usable; MJSynth-like variety wants "
            f"{RECOMMENDED_STYLES}+: `pip install -e .` installs twelve font packages, and docs/data.md "
            f"lists Debian font packages (or pass --fonts DIR)")

