"""A PNG contact sheet of LMDB samples with their labels, for a person to look at."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from zoo.data.lmdb import LmdbReader
from zoo.data.transforms import to_opaque_8bit
from zoo.outputs import save_png

ROW_HEIGHT = 48     # each image is shown this high (2.5 x 32: big enough to judge a sample)
CELL_WIDTH = 240
LABEL_HEIGHT = 22


@functools.lru_cache(maxsize=None)
def _label_font(size: int = 15) -> ImageFont.ImageFont:
    from zoo.data.synth.fonts import discover_fonts
    fonts, _ = discover_fonts()
    mono = [f for f in fonts if "Mono" in f.family and f.style in ("Book", "Regular")] or list(fonts)
    return ImageFont.truetype(mono[0].path, size) if mono else ImageFont.load_default(size)


def _fitted(caption: str, width: int) -> tuple[str, ImageFont.ImageFont]:
    """``caption`` in the largest label font (15 px down to 9) in which it fits ``width``, so that a long
    one does not run into the next cell; one still too long at 9 px ends in an ellipsis."""
    for size in (15, 13, 11, 9):
        font = _label_font(size)
        if font.getlength(caption) <= width:
            return caption, font
    while len(caption) > 1 and font.getlength(caption + "…") > width:
        caption = caption[:-1]
    return caption + "…", font


def labelled_grid(cells: list[tuple[Image.Image | None, str]], columns: int = 4) -> Image.Image:
    """Images on a grid, each ROW_HEIGHT high with its caption under it; None is a red cell (an image
    that could not be read)."""
    rows = -(-len(cells) // columns)
    sheet = Image.new("RGB", (columns * CELL_WIDTH, rows * (ROW_HEIGHT + LABEL_HEIGHT + 6)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (image, caption) in enumerate(cells):
        x, y = (k % columns) * CELL_WIDTH, (k // columns) * (ROW_HEIGHT + LABEL_HEIGHT + 6)
        if image is None:
            draw.rectangle((x + 4, y + 2, x + CELL_WIDTH - 4, y + ROW_HEIGHT), fill=(230, 80, 80))
            draw.text((x + 10, y + 14), "undecodable image", fill="white", font=_label_font())
        else:
            image = to_opaque_8bit(image).convert("RGB")
            width = min(CELL_WIDTH - 8, max(1, round(image.width * ROW_HEIGHT / image.height)))
            sheet.paste(image.resize((width, ROW_HEIGHT), Image.BILINEAR), (x + 4, y + 2))
        text, font = _fitted(caption, CELL_WIDTH - 8)
        draw.text((x + 4, y + ROW_HEIGHT + 4), text, fill="black", font=font)
    return sheet


def sample_grid(path: str | Path, n: int = 32, seed: int | None = None, columns: int = 4) -> tuple[Image.Image, list[int]]:
    """The first ``n`` samples (or ``n`` drawn with ``seed``) on a grid, each labelled with its
    index and label; unreadable images are shown as a red cell. Returns the image and the indices."""
    reader = LmdbReader(path)
    count = min(n, len(reader))
    if seed is None:
        indices = list(range(1, count + 1))
    else:
        indices = sorted(np.random.default_rng(seed).choice(len(reader), count, replace=False) + 1)
    cells = []
    for index in indices:
        try:
            image = reader.image(int(index))
        except (OSError, ValueError, SyntaxError):
            image = None
        label = reader.label(int(index))
        cells.append((image, f"{index}: {label if label else '(empty)'}"))
    reader.close()
    return labelled_grid(cells, columns), [int(i) for i in indices]


def write_grid(path: str | Path, out: str | Path, n: int = 32, seed: int | None = None) -> tuple[Path, list[int]]:
    """The sample grid as a PNG at ``out``: never over the data set it shows, nor over a file the zoo
    did not draw (a user's image). Returns the PNG's path and the indices shown."""
    sheet, indices = sample_grid(path, n, seed)
    return save_png(sheet, out, [path, *Path(path).glob("*.mdb")]), indices  # not the folder, nor its database files
