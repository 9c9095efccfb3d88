"""Recurrent convolution layers: one unrolling loop, and the GRCNN layout they are stacked in.

A recurrent layer computes its feed-forward terms from the input ``u`` once, an initial state
x(0) from them, then ``recurrent_steps`` steps x(t) = step(t, ff, x(t-1)). Its recurrent convolutions
are either one set shared over all steps (Liang & Hu; GRCNN's small model) or one set per step
(GRCNN's released model). BatchNorms are always per step: their statistics differ by step.
RCL (``zoo.models.rcnn``) and GRCL (``zoo.models.grcnn``) only define the three terms.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import nn

from zoo.models.geometry import Geometry
from zoo.models.layers import collapse_height, conv_bn_relu, pool_halve, pool_keep_width
from zoo.models.recognizer import Backbone


class RecurrentWeights(nn.ModuleList):
    """The recurrent modules of a layer (one shared by all steps, or one per step), told apart by
    type from its other per-step lists (BatchNorms) so that ``unshare`` knows what to copy."""


class RecurrentConvLayer(nn.Module):
    feedforward_kernel = 3
    recurrent_kernel = 3

    def __init__(self, recurrent_steps: int, share_weights: bool):
        super().__init__()
        if recurrent_steps < 0:
            raise ValueError(f"recurrent_steps must be >= 0, got {recurrent_steps}")
        self.recurrent_steps = recurrent_steps
        self.share_weights = share_weights
        # When set to a list, step() appends what a visualisation wants to see (e.g. GRCL gates).
        self.recorded: list[torch.Tensor] | None = None

    def recurrent(self, make: Callable[[], nn.Module]) -> RecurrentWeights:
        """Recurrent weights: one module shared by all steps, or one per step."""
        return RecurrentWeights(make() for _ in range(1 if self.share_weights else self.recurrent_steps))

    def per_step(self, make: Callable[[], nn.Module]) -> nn.ModuleList:
        return nn.ModuleList(make() for _ in range(self.recurrent_steps))

    def at(self, modules: nn.ModuleList, t: int) -> nn.Module:
        return modules[0 if self.share_weights else t]

    def unshare(self) -> None:
        """Give every step its own copy of the shared recurrent modules: the same function, but
        int8 quantization then observes and scales each step's activations separately (one scale
        for all steps of RCNN's unnormalised recurrence cost it 2 IC03 points, docs/performance.md)."""
        if not self.share_weights:
            return
        for name, child in list(self.named_children()):
            if isinstance(child, RecurrentWeights):
                setattr(self, name, RecurrentWeights(copy.deepcopy(child[0]) for _ in range(self.recurrent_steps)))
        self.share_weights = False

    def feedforward(self, u: torch.Tensor) -> Any:
        raise NotImplementedError

    def initial_state(self, ff: Any) -> torch.Tensor:
        raise NotImplementedError

    def step(self, t: int, ff: Any, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        ff = self.feedforward(u)
        x = self.initial_state(ff)
        for t in range(self.recurrent_steps):
            x = self.step(t, ff, x)
        return x

    def geometry(self) -> Geometry:
        """x(T) sees u through the feed-forward conv and T recurrent convs (same padding)."""
        kernel = self.feedforward_kernel + self.recurrent_steps * (self.recurrent_kernel - 1)
        return Geometry(kernel, 1, (kernel - 1) // 2)


class RecurrentBackbone(Backbone):
    """GRCNN's official layout with any recurrent layer: conv3-64, P, L(64, 64), P, L(64, 128), P',
    L(128, 256), P', conv2-512 +BN (P = 2x2/2 max pool, P' = the width-keeping pool)."""

    def __init__(self, layer: Callable[[int, int], RecurrentConvLayer], in_chans: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(in_chans, 64, bn=False), pool_halve(),
            layer(64, 64), pool_halve(),
            layer(64, 128), pool_keep_width(),
            layer(128, 256), pool_keep_width(),
            *collapse_height(256, 512),
        )
