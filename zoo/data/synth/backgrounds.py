"""Backgrounds behind rendered words: flat, gradients, smooth textures, pixel noise and crops of
larger images blended in (MJSynth blends crops of natural images): procedurally drawn scenes, or the
user's images with ``--backgrounds DIR``; and, for the scene preset, crops of real photographs that
Debian packages ship (``PHOTO_PACKAGES``: installed with ``apt-get``, see docs/data.md).

Every background is ``base colour + amplitude x (pattern - 0.5)`` with the amplitude bounded by the
renderer, so the contrast between text and background stays controlled."""
from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from zoo.data.transforms import read_image

KINDS = ("flat", "gradient", "texture", "noise", "crop")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# The Debian packages (checked on Debian 12: mate-backgrounds 1.26.0-1, plasma-workspace-wallpapers
# 4:5.27.5-2) whose photographs become backgrounds, and which of their files are photographs (the
# others are drawings, logos and flat colours). System paths only: never a benchmark or dev folder.
PHOTO_PACKAGES = {
    "mate-backgrounds": ("/usr/share/backgrounds/mate/nature/*.jpg",),  # 12: leaves, flowers, dunes, wood, rain
    "plasma-workspace-wallpapers": tuple(  # 11: a jetty, boats, a forest path, sky, architecture, a lake
        f"/usr/share/wallpapers/{name}/contents/images/{size}.jpg" for name, size in (
            ("BytheWater", "1920x1080"), ("ColdRipple", "1920x1080"), ("ColorfulCups", "2560x1600"),
            ("DarkestHour", "1920x1080"), ("EveningGlow", "1920x1080"), ("FallenLeaf", "1920x1080"),
            ("Grey", "1920x1080"), ("Kite", "1920x1080"), ("OneStandsOut", "1920x1080"),
            ("Path", "1920x1080"), ("summer_1am", "1920x1080"))),
}


def _gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = np.cos(angle) * x / max(w, 1) + np.sin(angle) * y / max(h, 1)
    ramp -= ramp.min()
    return (ramp / max(float(ramp.max()), 1e-6))[..., None]


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth value noise: a coarse random grid upsampled bilinearly, two octaves, per channel."""
    out = np.zeros((h, w, 3), np.float32)
    for cells, weight in ((4, 0.65), (16, 0.35)):
        grid = (rng.random((max(2, h * cells // max(w, 1) + 2), cells + 2, 3)) * 255).astype(np.uint8)
        out += weight * np.asarray(Image.fromarray(grid).resize((w, h), Image.BILINEAR), np.float32) / 255.0
    return out


def _noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.random((h, w, 1), dtype=np.float32)


class CropPool:
    """Large images to cut background crops from: the user's, or procedurally drawn scenes
    (overlapping rectangles, ellipses and lines, blurred) made from ``seed``."""

    def __init__(self, seed: int, directory: str | Path | None = None, count: int = 12):
        if directory is not None:
            # files only: a subfolder named like an image (x.png/) is searched, not opened
            paths = sorted(p for p in Path(directory).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not paths:
                raise FileNotFoundError(f"--backgrounds {directory}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
            self.images = [np.asarray(read_image(p, f"--backgrounds {p}").convert("RGB"), np.float32) / 255.0
                           for p in paths]
        else:
            rng = np.random.default_rng([seed, 0xB6])
            self.images = [self._scene(rng) for _ in range(count)]

    @staticmethod
    def _scene(rng: np.random.Generator, w: int = 480, h: int = 160) -> np.ndarray:
        image = Image.new("RGB", (w, h), tuple(int(c) for c in rng.integers(0, 256, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(40):
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            x0, y0 = rng.integers(-40, w), rng.integers(-40, h)
            x1, y1 = x0 + rng.integers(5, 160), y0 + rng.integers(5, 120)
            shape = rng.integers(3)
            if shape == 0:
                draw.rectangle((x0, y0, x1, y1), fill=colour)
            elif shape == 1:
                draw.ellipse((x0, y0, x1, y1), fill=colour)
            else:
                draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(1, 8)))
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.5))))
        return np.asarray(image, np.float32) / 255.0

    def crop(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        source = self.images[rng.integers(len(self.images))]
        sh, sw = source.shape[:2]
        scale = max(h / sh, w / sw, rng.uniform(0.2, 1.0))
        ch, cw = min(sh, int(np.ceil(h / scale))), min(sw, int(np.ceil(w / scale)))
        y, x = rng.integers(0, sh - ch + 1), rng.integers(0, sw - cw + 1)
        patch = Image.fromarray((source[y:y + ch, x:x + cw] * 255).astype(np.uint8))
        return np.asarray(patch.resize((w, h), Image.BILINEAR), np.float32) / 255.0


def photo_paths() -> list[Path]:
    """The photographs of ``PHOTO_PACKAGES`` installed on this machine, sorted."""
    patterns = [pattern for globs in PHOTO_PACKAGES.values() for pattern in globs]
    return sorted({Path(p) for pattern in patterns for p in glob.glob(pattern)})


class PhotoPool:
    """Photographs to cut backgrounds from, decoded once at a reduced size (JPEG draft mode: 1/2 or 1/4
    scale, 640-960 px wide, a few ms each), each with its halves and quarters: a crop is resized from
    the level nearest its scale, so that resizing costs what the output does, not the crop's area."""
    LEVELS = 3

    def __init__(self, paths: list[Path]):
        self.paths = list(paths)
        self.images = []
        for path in self.paths:
            image = read_image(path, f"photo background {path}", draft=(640, 360)).convert("RGB")
            self.images.append([image] + [image.reduce(2 ** k) for k in range(1, self.LEVELS)])

    def crop(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        """A random crop resized to w x h, over a wide range of scales (a patch of wall to a whole tree)
        and blurred by a random radius (a background out of focus behind a sign), as a pattern: centred
        on 0.5 and stretched to 0..1, except that a nearly flat crop (sky) stays nearly flat."""
        levels = self.images[rng.integers(len(self.images))]
        scale = max(h / levels[0].height, w / levels[0].width, rng.uniform(0.1, 0.6))
        level = min(int(np.log2(1 / scale)), self.LEVELS - 1)  # scale at that level: (0.5, 1] (0.4 at least)
        image, scale = levels[level], scale * 2 ** level
        sw, sh = image.size
        cw, ch = min(sw, int(np.ceil(w / scale))), min(sh, int(np.ceil(h / scale)))
        x, y = int(rng.integers(0, sw - cw + 1)), int(rng.integers(0, sh - ch + 1))
        patch = image.resize((w, h), Image.BILINEAR, box=(x, y, x + cw, y + ch))
        patch = patch.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.0))))
        values = np.asarray(patch, np.float32)
        deviation = values - values.mean((0, 1))
        return 0.5 + deviation / (2 * max(float(np.abs(deviation).max()), 24.0))


def photo_background(rng: np.random.Generator, h: int, w: int, base: np.ndarray, amplitude: float,
                     photos: PhotoPool) -> Image.Image:
    """A crop of a photograph around ``base``, varying by at most ``amplitude`` (as ``background``)."""
    return _blend(base, amplitude, photos.crop(rng, h, w))


def _blend(base: np.ndarray, amplitude: float, values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(base + amplitude * (values - 0.5), 0, 255).astype(np.uint8))


def background(rng: np.random.Generator, h: int, w: int, base: np.ndarray, amplitude: float,
               pool: CropPool, weights: tuple[float, ...] = (0.25, 0.2, 0.2, 0.1, 0.25)) -> tuple[Image.Image, str]:
    """A w x h RGB image around ``base`` (RGB, 0..255) varying by at most ``amplitude``, and the
    kind drawn."""
    cumulative = np.cumsum(weights) / sum(weights)
    kind = KINDS[int(np.searchsorted(cumulative, rng.random(), side="right"))]
    if kind == "flat":
        return Image.new("RGB", (w, h), tuple(int(v) for v in base)), kind
    pattern = {"gradient": _gradient, "texture": _texture, "noise": _noise}.get(kind)
    values = pattern(rng, h, w) if pattern else pool.crop(rng, h, w)
    return _blend(base, amplitude, values), kind
