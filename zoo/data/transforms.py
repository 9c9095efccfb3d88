"""The preprocessing contract of a model, as one object stored with it and reused at inference.

``Preprocess.from_config(model.config)`` turns a PIL image into the (C, H, W) float tensor the
model expects; ``Preprocess.collate`` batches tensors of different widths. ``Augment`` is the
optional online augmentation of training images (before ``Preprocess``; never at inference).
``read_image`` is how every reader of the zoo decodes an image file (upright, fully, one error type).
"""
from __future__ import annotations

import io
import math
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    import torch

WIDTH_POLICIES = ("fixed", "keep_ratio")
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
# What decoding a bad image raises: PIL's UnidentifiedImageError and a truncated file's error are
# OSErrors, a corrupt header can raise SyntaxError or ValueError, and a decompression bomb raises
# DecompressionBombError, which is none of these (it derives from Exception alone). Every reader
# of images catches this one tuple (or calls ``read_image``), so none lets one of them through.
IMAGE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


class UnreadableImage(ValueError):
    """An image that cannot be decoded; the message is one line naming it, what is wrong and the fix."""


def read_image(source: str | Path | bytes, name: str | None = None,
               draft: tuple[int, int] | None = None) -> Image.Image:
    """The image at ``source`` (a path, or a file's encoded bytes) decoded now (a truncated file fails
    here, with its name, not later inside a batch or a worker) and turned upright by its EXIF
    Orientation (a phone photo stored sideways reads as it is shown). An undecodable one raises
    ``UnreadableImage`` naming ``name`` (default: the path). ``draft``: a JPEG decoded at the
    smallest power-of-two reduction still at least that size (PIL's draft mode: a large photo
    costs what its use does)."""
    name = name or (f"{len(source)} bytes" if isinstance(source, bytes) else str(source))
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            if draft:
                image.draft("RGB", draft)
            image.load()  # leaving the block closes the file (a multi-frame one stays open otherwise)
            _upright(image, name)
    except UnreadableImage:
        raise
    except Image.DecompressionBombError:
        raise UnreadableImage(bomb_message(source, name)) from None
    except UnidentifiedImageError:  # its message names an in-memory buffer or repeats the path
        size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
        raise UnreadableImage(f"{name}: not a readable image ({size} bytes in no format PIL reads)") from None
    except IMAGE_ERRORS as err:
        reason = str(err)
        if not isinstance(source, bytes):  # PIL repeats the path; the message names it once, first
            reason = reason.replace(f" {str(source)!r}", "").replace(str(source), "").strip(" :")
        raise UnreadableImage(f"{name}: not a readable image ({reason or type(err).__name__})") from None
    return image


def _upright(image: Image.Image, name: str) -> None:
    """Turn ``image`` by its EXIF Orientation, in place (no copy of every image that has none)."""
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except (*IMAGE_ERRORS, struct.error, KeyError, IndexError, TypeError) as err:  # a malformed EXIF block
        raise UnreadableImage(f"{name}: its EXIF data cannot be read ({err}), so its orientation is unknown; "
                              f"save the image again without EXIF") from None


def bomb_message(source: str | Path | bytes, name: str) -> str:
    """One line for an image over PIL's decompression-bomb limit: its size and the fix."""
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)  # PIL refuses an image of more than twice the setting
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:  # the header alone, to say how large it is: nothing is decoded
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            (width, height), size = image.size, f"a {image.width}x{image.height} image"
    except IMAGE_ERRORS:
        width, height, size = 0, 0, "an image"
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    pixels = f" ({width * height / 1e6:.3g} Mpx)" if width else ""
    return (f"{name}: {size}{pixels} exceeds PIL's decompression-bomb limit of {limit / 1e6:.3g} Mpx "
            f"(PIL.Image.MAX_IMAGE_PIXELS); shrink it, or crop it to the word")


def to_opaque_8bit(image: Image.Image) -> Image.Image:
    """An image with transparency flattened (``flatten_alpha``) and a grayscale image of more than 8
    bits scaled to 8 bit ("L"); any other image as it is. PIL's own ``convert("L")`` clips every value
    above 255, so a 16-bit word image would read as blank white.

    The scale comes from the mode and the values: I;16* modes (a 16-bit PNG or TIFF) are 16-bit
    (65535 -> 255). Mode I (32-bit integers) holds any range: values within 0..255 are 8-bit already
    (``convert("I")`` of an 8-bit image; dividing would make it black), within 0..65535 16-bit (how
    PIL has opened 16-bit PNGs), and any other range is stretched from its minimum to its maximum."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return flatten_alpha(image)
    if image.mode not in (*SIXTEEN_BIT_MODES, "I"):
        return image
    values = np.asarray(image, dtype=np.float64)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if image.mode in SIXTEEN_BIT_MODES or (low >= 0 and high > 255 and high <= 65535):
        scaled = values / 257  # 65535 -> 255
    elif low >= 0 and high <= 255:
        scaled = values
    else:
        scaled = (values - low) * (255 / max(high - low, 1))
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


def flatten_alpha(image: Image.Image) -> Image.Image:
    """An image with transparency composited onto a plain background ("RGB"): white under a word
    drawn dark, black under one drawn light (judged by the mean brightness of its opaque pixels).
    Dropping the alpha channel instead, as ``convert`` does, leaves whatever colour the transparent
    pixels hold: a PNG whose word lives only in its alpha channel (black everywhere) read blank."""
    array = np.asarray(image.convert("RGBA"), dtype=np.float32)
    colour, alpha = array[..., :3], array[..., 3:] / 255
    drawn = float((colour.mean(-1, keepdims=True) * alpha).sum() / max(float(alpha.sum()), 1e-6))
    background = 255.0 if drawn < 128 else 0.0
    return Image.fromarray(np.rint(colour * alpha + background * (1 - alpha)).astype(np.uint8), "RGB")


@dataclass(frozen=True)
class Preprocess:
    """Resize to ``height``; width ``width`` ("fixed") or proportional with ``width`` as minimum and
    ``max_width`` as maximum ("keep_ratio"); grayscale (1 channel) or RGB (3); scale to [0, 1];
    normalise with ``mean``/``std``."""
    height: int = 32
    width: int = 100
    width_policy: str = "fixed"
    max_width: int = 800
    in_chans: int = 1
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)

    def __post_init__(self) -> None:
        if self.width_policy not in WIDTH_POLICIES:
            raise ValueError(f"width_policy {self.width_policy!r} is not one of {WIDTH_POLICIES}")
        if self.in_chans not in (1, 3):
            raise ValueError(f"in_chans must be 1 (grayscale) or 3 (RGB), got {self.in_chans}")

    @classmethod
    def from_config(cls, config, **overrides) -> "Preprocess":
        fields = {k: getattr(config, k) for k in ("height", "width", "width_policy", "in_chans", "mean", "std")}
        return cls(**{**fields, **overrides})

    def as_dict(self) -> dict:
        return asdict(self)

    def target_width(self, width: int, height: int) -> int:
        if self.width_policy == "fixed":
            return self.width
        scaled = math.ceil(width * self.height / max(height, 1))
        return int(min(max(scaled, self.width), self.max_width))

    def __call__(self, image: Image.Image) -> torch.Tensor:
        import torch  # here, not at the top: the LMDB reader and writer, benchmarks and the renderer's
        # workers read images through this module, and need no torch for it

        image = to_opaque_8bit(image).convert("L" if self.in_chans == 1 else "RGB")
        size = (self.target_width(*image.size), self.height)
        array = np.asarray(image.resize(size, Image.BICUBIC), dtype=np.float32).reshape(self.height, size[0], self.in_chans)
        # (x / 255 - mean) / std as one multiply-add per pixel
        scale = np.float32(1 / 255) / np.asarray(self.std, np.float32)
        shift = -np.asarray(self.mean, np.float32) / np.asarray(self.std, np.float32)
        return torch.from_numpy(array * scale + shift).permute(2, 0, 1)

    @staticmethod
    def collate(tensors: list[torch.Tensor]) -> torch.Tensor:
        """Stack (C, H, W_i) tensors, padding each on the right by repeating its last column
        (a pad of the image's own border colour rather than a synthetic black or white bar)."""
        import torch

        width = max(t.shape[-1] for t in tensors)
        return torch.stack([torch.cat([t, t[..., -1:].expand(*t.shape[:-1], width - t.shape[-1])], -1)
                            for t in tensors])


@dataclass(frozen=True)
class Augment:
    """Online augmentation: each operation applies with probability ``p``, in this order: crop jitter,
    rotation/perspective, contrast/brightness jitter, inversion, blur, noise, JPEG artefacts. The
    distortions are the renderer's (``zoo.data.synth.effects``), milder. ``augment(image, rng)``:
    all randomness comes from ``rng``, so a seeded generator reproduces it."""
    p: float = 0.3
    crop: float = 0.06          # fraction of the width/height each side may gain or lose
    max_rotation: float = 3.0   # degrees
    perspective: float = 0.08   # corner shift, fraction of the height
    contrast: float = 0.4       # contrast factor drawn from [1 - contrast, 1 + contrast]
    p_invert: float = 0.05
    max_blur: float = 1.2
    max_noise: float = 10.0
    jpeg_quality: tuple[int, int] = (20, 80)

    def as_dict(self) -> dict:
        return asdict(self)

    def __call__(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        from zoo.data.synth import effects

        image = to_opaque_8bit(image).convert("RGB")
        border = _border_colour(image)
        w, h = image.size
        if rng.random() < self.p:  # crop jitter: each side moves in or out (out fills with the border colour)
            left, top, right, bottom = rng.uniform(-self.crop, self.crop, 4) * np.array([w, h, w, h])
            box = (round(left), round(top), w - round(right), h - round(bottom))
            if box[2] - box[0] >= 4 and box[3] - box[1] >= 4:
                image = _crop_filled(image, box, border)
        if rng.random() < self.p:
            image = effects.warp(image, rng, self.max_rotation, self.perspective, fill=border)
        if rng.random() < self.p:
            factor = rng.uniform(1 - self.contrast, 1 + self.contrast)
            offset = rng.uniform(-0.15, 0.15) * 255
            mean = np.asarray(image, np.float32).mean()
            image = Image.fromarray(np.clip((np.asarray(image, np.float32) - mean) * factor + mean + offset,
                                            0, 255).astype(np.uint8))
        if rng.random() < self.p_invert:
            image = Image.fromarray(255 - np.asarray(image))
        if rng.random() < self.p:
            image = effects.blur(image, rng.uniform(0, self.max_blur))
        if rng.random() < self.p:
            image = Image.fromarray(effects.add_noise(np.asarray(image), rng, rng.uniform(0, self.max_noise)))
        if rng.random() < self.p:
            image = effects.jpeg_artefacts(image, int(rng.integers(*self.jpeg_quality, endpoint=True)))
        return image


def _border_colour(image: Image.Image) -> tuple[int, ...]:
    """The mean colour of the outermost pixels: what lies around the word, to fill new area with."""
    a = np.asarray(image, np.float32)
    edge = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    return tuple(int(v) for v in edge.mean(0))


def _crop_filled(image: Image.Image, box: tuple[int, int, int, int], fill: tuple[int, ...]) -> Image.Image:
    out = Image.new(image.mode, (box[2] - box[0], box[3] - box[1]), fill)
    out.paste(image, (-box[0], -box[1]))
    return out
