"""The preprocessing contract of a model, as one object stored with it and reused at inference.

``Preprocess.from_config(model.config)`` turns a PIL image into the (C, H, W) float tensor the
model expects; ``Preprocess.collate`` batches tensors of different widths. ``Augment`` is the
optional online augmentation of training images (before ``Preprocess``; never at inference).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image

WIDTH_POLICIES = ("fixed", "keep_ratio")
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_8bit(image: Image.Image) -> Image.Image:
    """A 16-bit grayscale image (a 16-bit PNG opens as mode I;16, or I) scaled to 8 bit ("L"); any
    other image as it is. PIL's own ``convert("L")`` clips every value above 255, so a 16-bit word
    image would read as blank white. Mode I is taken as 16-bit too: it is how PIL has opened such PNGs."""
    if image.mode not in SIXTEEN_BIT_MODES:
        return image
    scaled = np.rint(np.asarray(image, dtype=np.float64) / 257)  # 65535 -> 255
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")


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
        image = to_8bit(image).convert("L" if self.in_chans == 1 else "RGB")
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

        image = to_8bit(image).convert("RGB")
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
