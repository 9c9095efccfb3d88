"""Which input pixels drive a recognizer's transcription: per-image saliency on the full model.

Both methods explain the same score: the greedy (best-path) transcription's evidence,

    S(x) = sum over frames t emitting a character of log p(c_t | t, x),

where c_t = argmax_k p(k | t, x) at the unperturbed image and "emitting" means c_t is not the
blank (every frame of a character's run counts). When the best path is all blanks (common for an
untrained model) there is no decoded character and S sums over every frame instead; the result
says which (``target``).

- gradient: |dS/dx| at each pixel, max over input channels (a vanilla gradient, Simonyan et al.
  2014).
- occlusion: S(x) - S(x with a patch set to the image's mean), patch x patch pixels slid with
  ``stride``, each pixel averaging the drops of the patches covering it (Zeiler & Fergus 2014);
  negative drops (occluding helped) are kept in the map.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from zoo.viz.alignment import best_path


@dataclass
class Saliency:
    map: torch.Tensor          # (H, W), on the preprocessed image's grid
    logits: torch.Tensor       # (frames, classes) of the unperturbed image
    method: str
    target: str                # "emitting frames" or "all frames (best path is all blank)"
    target_frames: list[int]


def _target(logits: torch.Tensor, blank: int) -> tuple[torch.Tensor, list[int], str]:
    classes = best_path(logits)
    frames = [t for t, c in enumerate(classes.tolist()) if c != blank]
    if frames:
        return classes, frames, "emitting frames"
    return classes, list(range(len(classes))), "all frames (best path is all blank)"


def decoded_score(logits: torch.Tensor, classes: torch.Tensor, frames: list[int]) -> torch.Tensor:
    """S for a batch of logits (N, frames, classes): sum of log p(c_t) over ``frames``."""
    logp = F.log_softmax(logits, -1)[:, frames]
    return logp.gather(-1, classes[frames].view(1, -1, 1).expand(len(logp), -1, 1)).squeeze(-1).sum(-1)


def gradient_saliency(model, image: torch.Tensor) -> Saliency:
    x = image.unsqueeze(0).requires_grad_(True)
    logits = model(x)
    classes, frames, target = _target(logits[0].detach(), model.config.blank_index)
    (grad,) = torch.autograd.grad(decoded_score(logits, classes, frames).sum(), x)
    return Saliency(grad[0].abs().amax(0), logits[0].detach(), "gradient", target, frames)


@torch.no_grad()
def occlusion_saliency(model, image: torch.Tensor, patch: int = 8, stride: int = 4, batch: int = 32) -> Saliency:
    _, height, width = image.shape
    reference = model(image.unsqueeze(0))
    classes, frames, target = _target(reference[0], model.config.blank_index)
    base = decoded_score(reference, classes, frames)[0]
    fill = image.mean((1, 2), keepdim=True)
    windows = [(top, left) for top in _starts(height, patch, stride) for left in _starts(width, patch, stride)]
    drops = torch.zeros(height, width)
    cover = torch.zeros(height, width)
    for i in range(0, len(windows), batch):
        chunk = windows[i:i + batch]
        occluded = image.unsqueeze(0).repeat(len(chunk), 1, 1, 1)
        for k, (top, left) in enumerate(chunk):
            occluded[k, :, top:top + patch, left:left + patch] = fill
        scores = decoded_score(model(occluded), classes, frames)
        for (top, left), score in zip(chunk, scores):
            drops[top:top + patch, left:left + patch] += base - score
            cover[top:top + patch, left:left + patch] += 1
    return Saliency(drops / cover, reference[0], "occlusion", target, frames)


def _starts(size: int, patch: int, stride: int) -> list[int]:
    """Window starts covering every pixel: a regular grid plus one flush with the far edge."""
    last = max(size - patch, 0)
    return sorted(set(range(0, last + 1, stride)) | {last})


METHODS = {"gradient": gradient_saliency, "occlusion": occlusion_saliency}


def saliency(model, image: torch.Tensor, method: str = "gradient") -> Saliency:
    if method not in METHODS:
        raise ValueError(f"unknown saliency method {method!r}; choose one of {', '.join(METHODS)}")
    return METHODS[method](model, image)
