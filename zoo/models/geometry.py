"""Geometry along the width axis: frame counts and theoretical receptive fields.

Every backbone is a sequence of layers (``backbone.features``). Each layer is described along the
width by kernel, stride, padding and dilation: read from Conv2d/MaxPool2d/AvgPool2d, asked from a
layer's own ``geometry()`` (recurrent and dense layers; ``None`` from it: pointwise), or ``None`` for
the pointwise layer types of ``POINTWISE`` (BatchNorm, ReLU, LRN, dropout, ...). Any other layer is
an error naming its type: counting an unknown layer as pointwise would make frame counts and
receptive fields silently wrong. Walking that list gives both the output width
(``floor((w + 2p - d(k - 1) - 1) / s) + 1`` per layer) and the receptive field
(``r += (k - 1) * d * j; j *= s``, Araujo et al., Distill 2019).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from zoo.models.layers import ChannelLRN

# Layers that map each position to itself (no kernel along the width): skipped by the geometry.
POINTWISE: tuple[type[nn.Module], ...] = (
    nn.BatchNorm2d, nn.SyncBatchNorm, nn.GroupNorm, nn.InstanceNorm2d, nn.LocalResponseNorm, ChannelLRN,
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Hardswish, nn.Sigmoid, nn.Tanh,
    nn.Dropout, nn.Dropout2d, nn.Identity,
)


@dataclass(frozen=True)
class Geometry:
    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1

    def out_size(self, size: int) -> int:
        return (size + 2 * self.padding - self.dilation * (self.kernel - 1) - 1) // self.stride + 1


def _width(value) -> int:
    return value[-1] if isinstance(value, (tuple, list)) else value


def layer_geometry(module: nn.Module) -> Geometry | None:
    """The width-axis geometry of one layer, or None when it is pointwise; a TypeError naming the
    layer's type when it is none of the known kinds."""
    if hasattr(module, "geometry"):
        return module.geometry()
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        return Geometry(_width(module.kernel_size), _width(module.stride), _width(module.padding),
                        _width(getattr(module, "dilation", 1)))
    if isinstance(module, nn.Sequential):
        raise TypeError("flatten nested Sequentials into backbone.features so each layer is described")
    if isinstance(module, POINTWISE):
        return None
    raise TypeError(f"the receptive-field geometry does not know the layer type {type(module).__name__}: give it a "
                    f"geometry() method returning zoo.models.geometry.Geometry(kernel, stride, padding) along the "
                    f"width (None if it is pointwise), or add it to zoo.models.geometry.POINTWISE; known pointwise "
                    f"types: {', '.join(t.__name__ for t in POINTWISE)}")


def spatial_layers(features: nn.Sequential) -> list[tuple[str, Geometry]]:
    return [(name, g) for name, m in features.named_children() if (g := layer_geometry(m)) is not None]


def num_frames(features: nn.Sequential, width: int) -> int:
    for _, g in spatial_layers(features):
        width = g.out_size(width)
    return width


def receptive_field_table(features: nn.Sequential, width: int = 100) -> list[dict]:
    """Per spatial layer: its geometry, the receptive field (px) and jump (px between neighbouring
    outputs) after it, and the output width for an input ``width`` px wide."""
    rows, rf, jump = [], 1, 1
    for name, g in spatial_layers(features):
        rf += (g.kernel - 1) * g.dilation * jump
        jump *= g.stride
        width = g.out_size(width)
        rows.append({"layer": name, "kernel": g.kernel, "stride": g.stride, "padding": g.padding,
                     "receptive_field": rf, "jump": jump, "out_width": width})
    return rows


def receptive_field(features: nn.Sequential) -> int:
    rows = receptive_field_table(features)
    return rows[-1]["receptive_field"] if rows else 1


def horizontal_stride(features: nn.Sequential) -> int:
    rows = receptive_field_table(features)
    return rows[-1]["jump"] if rows else 1
