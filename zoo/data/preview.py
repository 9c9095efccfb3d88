"""A PNG contact sheet of LMDB samples with their labels, for a person to look at."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from zoo.data.lmdb import LmdbReader
from zoo.data.transforms import to_8bit
from zoo.fileio import atomic_path

ROW_HEIGHT = 48     # each image is shown this high (2.5 x 32: big enough to judge a sample)
CELL_WIDTH = 240
LABEL_HEIGHT = 22


def _label_font(size: int = 15) -> ImageFont.ImageFont:
    from zoo.data.synth.fonts import discover_fonts
    fonts, _ = discover_fonts()
    mono = [f for f in fonts if "Mono" in f.family and f.style in ("Book", "Regular")] or list(fonts)
    return ImageFont.truetype(mono[0].path, size) if mono else ImageFont.load_default(size)


def sample_grid(path: str | Path, n: int = 32, seed: int | None = None, columns: int = 4) -> tuple[Image.Image, list[int]]:
    """The first ``n`` samples (or ``n`` drawn with ``seed``) on a grid, each labelled with its
    index and label; unreadable images are shown as a red cell. Returns the image and the indices."""
    reader = LmdbReader(path)
    count = min(n, len(reader))
    if seed is None:
        indices = list(range(1, count + 1))
    else:
        indices = sorted(np.random.default_rng(seed).choice(len(reader), count, replace=False) + 1)
    rows = -(-count // columns)
    sheet = Image.new("RGB", (columns * CELL_WIDTH, rows * (ROW_HEIGHT + LABEL_HEIGHT + 6)), "white")
    draw = ImageDraw.Draw(sheet)
    font = _label_font()
    for k, index in enumerate(indices):
        x, y = (k % columns) * CELL_WIDTH, (k // columns) * (ROW_HEIGHT + LABEL_HEIGHT + 6)
        try:
            image = to_8bit(reader.image(int(index))).convert("RGB")
            width = min(CELL_WIDTH - 8, max(1, round(image.width * ROW_HEIGHT / image.height)))
            sheet.paste(image.resize((width, ROW_HEIGHT), Image.BILINEAR), (x + 4, y + 2))
        except (OSError, ValueError, SyntaxError):
            draw.rectangle((x + 4, y + 2, x + CELL_WIDTH - 4, y + ROW_HEIGHT), fill=(230, 80, 80))
            draw.text((x + 10, y + 14), "undecodable image", fill="white", font=font)
        label = reader.label(int(index))
        draw.text((x + 4, y + ROW_HEIGHT + 4), f"{index}: {label if label else '(empty)'}", fill="black", font=font)
    reader.close()
    return sheet, [int(i) for i in indices]


def write_grid(path: str | Path, out: str | Path, n: int = 32, seed: int | None = None) -> Path:
    sheet, _ = sample_grid(path, n, seed)
    with atomic_path(out) as tmp:
        sheet.save(tmp, "PNG")
    return Path(out)
