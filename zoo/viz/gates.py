"""GRCNN's gates G(t) (Wang & Hu 2017, eq. 6) as maps over the image, per GRCL and iteration.

Every ``RecurrentConvLayer`` records into its ``recorded`` list while it is a list; a GRCL appends
its gate tensor (N, C, h, w) at each step, an RCL records nothing (it has no gate).
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from zoo.models.recurrent import RecurrentConvLayer


@contextlib.contextmanager
def recording(model: torch.nn.Module) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Within the block, ``{layer name: [gate at t=1, t=2, ...]}`` fills during forwards."""
    layers = {name: m for name, m in model.named_modules() if isinstance(m, RecurrentConvLayer)}
    for layer in layers.values():
        layer.recorded = []
    try:
        yield {name: layer.recorded for name, layer in layers.items()}
    finally:
        for layer in layers.values():
            layer.recorded = None


@torch.no_grad()
def gate_maps(model: torch.nn.Module, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{layer name: (iterations, h, w)}``: each iteration's gate averaged over channels, on the
    layer's own grid; empty when the model has no gated layer."""
    if not any(isinstance(m, RecurrentConvLayer) for m in model.modules()):
        return {}
    with recording(model) as recorded:
        model(image.unsqueeze(0))
        return {name: torch.stack([g[0].mean(0) for g in gates]) for name, gates in recorded.items() if gates}
