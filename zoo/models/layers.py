"""Building blocks shared by every backbone on the CRNN text-line grid.

All backbones map a 32-px-high line to a 1-px-high sequence with one frame per 4 px: two 2x2/2
pools, then two pools of kernel 2x2, stride (2, 1), padding (0, 1) that halve the height and grow
the width by one (CRNN's official code), and a final 2x2 convolution without padding that
collapses the last 2 rows. For 100 px: 100 -> 50 -> 25 -> 26 -> 27 -> 26 frames.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
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



class ChannelLRN(nn.Module):
    """Local response normalisation across channels (Krizhevsky et al. 2012; RCL, Liang & Hu eq. 3):

        y_c = x_c / (k + alpha / n * sum of x_c'^2 over the n channels c' around c)^beta

    computed exactly as ``nn.LocalResponseNorm(n, alpha, beta, k)``, but with the windowed sum of
    squares as one banded 1x1 convolution (a matrix product) instead of PyTorch's padded 3-D average
    pool, which is ~3x slower to train through on CPU and has no fast bf16 kernel. The band is a
    non-persistent buffer: state dicts are those of ``nn.LocalResponseNorm`` (none)."""

    def __init__(self, channels: int, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k
        c = torch.arange(channels)
        offset = c.view(1, -1) - c.view(-1, 1)  # [out, in]: in - out; window as nn.LocalResponseNorm pads it
        band = (offset >= -(size // 2)) & (offset <= (size - 1) // 2)
        self.register_buffer("band", (band.float() * alpha / size).view(channels, channels, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / F.conv2d(x * x, self.band.to(x.dtype)).add(self.k).pow(self.beta)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
