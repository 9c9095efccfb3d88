"""Receptive fields of output frames: where each frame sits on the input (theory) and which input
pixels actually move it (the effective receptive field, Luo et al., NIPS 2016).

Coordinates are input pixel columns of the preprocessed image (0 = left-most column). A frame's
receptive field is a property of the CNN backbone: the BiLSTM head mixes every frame with the
whole line, so the maps here differentiate ``backbone(x)``, never the recognizer's logits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from zoo.models.geometry import spatial_layers
from zoo.models.recognizer import Backbone

MASS_FRACTIONS = (0.5, 0.9)


def first_frame_centre(backbone: Backbone) -> float:
    """Column of the centre of frame 0's field: each layer moves it by ((k - 1) d / 2 - p) input
    jumps (Araujo et al., Distill 2019, eq. for the start/centre of a receptive field)."""
    centre, jump = 0.0, 1
    for _, g in spatial_layers(backbone.features):
        centre += ((g.kernel - 1) * g.dilation / 2 - g.padding) * jump
        jump *= g.stride
    return centre


def nominal_centres(backbone: Backbone, width: int) -> np.ndarray:
    """Centre column of every frame's theoretical field for an input ``width`` px wide."""
    return first_frame_centre(backbone) + backbone.horizontal_stride * np.arange(backbone.num_frames(width))


def theoretical_span(backbone: Backbone, frame: int) -> tuple[float, float]:
    """First and last input column (inclusive, possibly outside the image) a frame can see."""
    centre = first_frame_centre(backbone) + backbone.horizontal_stride * frame
    half = (backbone.receptive_field - 1) / 2
    return centre - half, centre + half


def frame_gradient_maps(backbone: Backbone, image: torch.Tensor, frames: list[int] | None = None,
                        chunk: int = 16) -> torch.Tensor:
    """One map per frame, (frames, H, W): |d/dx sum_c backbone(x)[c, 0, i]|, max over input channels.

    The image is repeated once per frame in a batch so one backward pass gives several frames; the
    backbone must be in eval mode (training-mode BatchNorm would mix the batch copies).
    """
    if backbone.training:
        raise ValueError("frame_gradient_maps needs the backbone in eval mode (call model.eval())")
    frames = list(range(backbone.num_frames(image.shape[-1]))) if frames is None else frames
    maps = []
    for start in range(0, len(frames), chunk):
        batch = frames[start:start + chunk]
        x = image.unsqueeze(0).repeat(len(batch), 1, 1, 1).requires_grad_(True)
        feats = backbone(x)
        picked = feats[torch.arange(len(batch)), :, 0, torch.tensor(batch)]  # (batch, channels)
        (grad,) = torch.autograd.grad(picked.sum(), x)
        maps.append(grad.abs().amax(1))
    return torch.cat(maps)


def mass_extent(profile: np.ndarray, fraction: float) -> int | None:
    """Width (px) of the narrowest run of columns holding ``fraction`` of the profile's mass
    (None for an all-zero profile)."""
    total = profile.sum()
    if total <= 0:
        return None
    cumulative = np.concatenate([[0.0], np.cumsum(profile)])
    # for every left edge a, the first right edge b with mass(a..b) >= fraction * total
    right = np.searchsorted(cumulative, cumulative[:-1] + fraction * total * (1 - 1e-9), side="left")
    valid = right <= len(profile)
    return int((right[valid] - np.arange(len(profile))[valid]).min())


def centre_of_mass(profile: np.ndarray) -> float | None:
    total = profile.sum()
    return float((profile * np.arange(len(profile))).sum() / total) if total > 0 else None


@dataclass
class FrameField:
    """The effective receptive field of one frame against its theoretical one."""
    frame: int
    nominal_centre: float
    theoretical_span: tuple[float, float]
    effective_centre: float | None
    extents: dict[str, int | None]
    profile: np.ndarray  # gradient mass per input column

    @property
    def offset(self) -> float | None:
        return None if self.effective_centre is None else self.effective_centre - self.nominal_centre

    def as_dict(self) -> dict:
        return {"frame": self.frame, "nominal_centre": self.nominal_centre,
                "theoretical_span": list(self.theoretical_span), "effective_centre": self.effective_centre,
                "centre_offset": self.offset, **self.extents,
                "column_mass": [round(float(v), 6) for v in self.profile / max(self.profile.sum(), 1e-30)]}


def frame_fields(backbone: Backbone, image: torch.Tensor, frames: list[int] | None = None) -> tuple[list[FrameField], torch.Tensor]:
    """Effective receptive field of every frame (or of ``frames``), and the per-frame maps."""
    frames = list(range(backbone.num_frames(image.shape[-1]))) if frames is None else frames
    maps = frame_gradient_maps(backbone, image, frames)
    centres = nominal_centres(backbone, image.shape[-1])
    fields = []
    for frame, frame_map in zip(frames, maps):
        profile = frame_map.sum(0).double().numpy()
        fields.append(FrameField(frame, float(centres[frame]), theoretical_span(backbone, frame),
                                 centre_of_mass(profile),
                                 {f"extent{int(q * 100)}": mass_extent(profile, q) for q in MASS_FRACTIONS},
                                 profile))
    return fields, maps
