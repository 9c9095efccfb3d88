"""The measurements behind a report: for each model and image, the transcription and its CTC
alignment, the image saliency, every frame's effective receptive field, and GRCNN's gates; for
the recurrent models, the effective field as the iteration count T grows."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from zoo.data.transforms import Preprocess
from zoo.factory import get_config
from zoo.viz.alignment import Segment, alignment, transcription
from zoo.viz.gates import gate_maps
from zoo.viz.inputs import Subject, untrained
from zoo.viz.receptive import MASS_FRACTIONS, FrameField, frame_fields
from zoo.viz.saliency import Saliency, saliency

DEFAULT_ITERATIONS = (0, 1, 2, 3, 4, 5)


def pick_frames(count: int, limit: int | None) -> list[int]:
    """All frames, or ``limit`` of them evenly spaced from the first to the last."""
    if not limit or limit >= count:
        return list(range(count))
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, limit)})


@dataclass
class ImageResult:
    path: Path
    truth: str | None
    input: torch.Tensor                 # the preprocessed image (C, H, W), normalised
    segments: list[Segment]
    saliency: Saliency
    fields: list[FrameField]
    frame_maps: torch.Tensor            # (frames studied, H, W)
    gates: dict[str, torch.Tensor]      # GRCL name -> (iterations, h, w)

    @property
    def decoded(self) -> str:
        return transcription(self.segments)

    def as_dict(self) -> dict:
        return {
            "file": str(self.path), "truth": self.truth, "input_size": list(self.input.shape[1:]),
            "decoded": self.decoded, "alignment": [s.as_dict() for s in self.segments],
            "saliency": {"method": self.saliency.method, "target": self.saliency.target,
                         "target_frames": self.saliency.target_frames},
            "frames": [f.as_dict() for f in self.fields],
            "gates": {name: {"mean_per_iteration": [round(float(v), 6) for v in maps.mean((1, 2))],
                             "grid": list(maps.shape[1:])} for name, maps in self.gates.items()},
        }


def study_image(subject: Subject, image: Image.Image, path: Path, truth: str | None, method: str,
                max_frames: int | None) -> ImageResult:
    model = subject.model
    x = Preprocess.from_config(model.config)(image)
    explained = saliency(model, x, method)
    frames = pick_frames(model.num_frames(x.shape[-1]), max_frames)
    fields, maps = frame_fields(model.backbone, x, frames)
    return ImageResult(path, truth, x, alignment(explained.logits, model.config.charset, model.config.blank_index),
                       explained, fields, maps, gate_maps(model, x))


def theoretical(subject: Subject) -> dict:
    backbone = subject.model.backbone
    return {"receptive_field": backbone.receptive_field, "horizontal_stride": backbone.horizontal_stride,
            "layers": backbone.receptive_field_table(subject.model.config.width)}


def mean_of(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def summary_row(subject: Subject, results: list[ImageResult]) -> dict:
    fields = [f for r in results for f in r.fields]
    row = {"model": subject.label, "trained": subject.trained,
           "theoretical RF (px)": subject.model.backbone.receptive_field,
           "stride (px)": subject.model.backbone.horizontal_stride}
    for q in MASS_FRACTIONS:
        key = f"extent{int(q * 100)}"
        row[f"ERF {int(q * 100)}% (px)"] = _round(mean_of([f.extents[key] for f in fields]))
    row["|centre offset| (px)"] = _round(mean_of([abs(f.offset) for f in fields if f.offset is not None]))
    row["frames"] = len(fields)
    row["decoded"] = " ".join(r.decoded or "''" for r in results)
    return row


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def has_iterations(name: str) -> bool:
    return "recurrent_steps" in get_config(name).options


def growth_with_iterations(name: str, images: list[Image.Image], iterations=DEFAULT_ITERATIONS,
                           seed: int = 0, advance=lambda: None) -> list[dict]:
    """For T in ``iterations``: the theoretical field and the middle frame's effective extents
    (mean over ``images``) of ``name`` built untrained with T iterations (a trained model fixes T)."""
    rows = []
    for t in iterations:
        subject = untrained(name, seed, recurrent_steps=t)
        extents = {f"extent{int(q * 100)}": [] for q in MASS_FRACTIONS}
        for image in images:
            x = Preprocess.from_config(subject.model.config)(image)
            middle = subject.model.num_frames(x.shape[-1]) // 2
            (field,), _ = frame_fields(subject.model.backbone, x, [middle])
            for key, values in extents.items():
                values.append(field.extents[key])
            advance()
        rows.append({"model": name, "iterations": t, "theoretical RF (px)": subject.model.backbone.receptive_field,
                     **{f"ERF {k[6:]}% (px)": _round(mean_of(v)) for k, v in extents.items()}})
    return rows
