"""Building blocks shared by every backbone on the CRNN text-line grid.

All backbones map a 32-px-high line to a 1-px-high sequence with one frame per 4 px: two 2x2/2
pools, then two pools of kernel 2x2, stride (2, 1), padding (0, 1) that halve the height and grow
the width by one (CRNN's official code), and a final 2x2 convolution without padding that
collapses the last 2 rows. For 100 px: 100 -> 50 -> 25 -> 26 -> 27 -> 26 frames.
"""
from __future__ import annotations

from torch import nn


def conv_bn_relu(cin: int, cout: int, kernel: int = 3, padding: int = 1, bn: bool = True) -> list[nn.Module]:
    """A convolution, BatchNorm when asked (then the conv has no bias), and ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, padding=padding, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    return layers + [nn.ReLU(inplace=True)]


def pool_halve() -> nn.MaxPool2d:
    return nn.MaxPool2d(2, 2)


def pool_keep_width() -> nn.MaxPool2d:
    """Halve the height, keep the width (+1): CRNN's pools 3 and 4."""
    return nn.MaxPool2d((2, 2), (2, 1), (0, 1))


def collapse_height(cin: int, cout: int = 512) -> list[nn.Module]:
    """The final 2x2 conv (no padding) + BN + ReLU: height 2 -> 1, width - 1."""
    return conv_bn_relu(cin, cout, kernel=2, padding=0)

