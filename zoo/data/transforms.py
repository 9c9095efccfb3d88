"""The preprocessing contract of a model, as one object stored with it and reused at inference.

``Preprocess.from_config(model.config)`` turns a PIL image into the (C, H, W) float tensor the
model expects; ``Preprocess.collate`` batches tensors of different widths.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image

WIDTH_POLICIES = ("fixed", "keep_ratio")


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
        image = image.convert("L" if self.in_chans == 1 else "RGB")
        size = (self.target_width(*image.size), self.height)
        array = np.asarray(image.resize(size, Image.BICUBIC), dtype=np.float32) / 255.0
        tensor = torch.from_numpy(array.reshape(self.height, size[0], self.in_chans)).permute(2, 0, 1)
        mean = torch.tensor(self.mean, dtype=torch.float32).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(-1, 1, 1)
        return (tensor - mean) / std

    @staticmethod
    def collate(tensors: list[torch.Tensor]) -> torch.Tensor:
        """Stack (C, H, W_i) tensors, padding each on the right by repeating its last column
        (a pad of the image's own border colour rather than a synthetic black or white bar)."""
        width = max(t.shape[-1] for t in tensors)
        return torch.stack([torch.cat([t, t[..., -1:].expand(*t.shape[:-1], width - t.shape[-1])], -1)
                            for t in tensors])
