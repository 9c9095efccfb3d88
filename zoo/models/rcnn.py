"""RCNN: recurrent convolution layers (Liang & Hu, CVPR 2015) in GRCNN's layout, i.e. GRCNN
without its gates: the ungated baseline of Wang & Hu's comparison."""
from __future__ import annotations

import functools

import torch
from torch import nn

from zoo.models.layers import ChannelLRN
from zoo.models.recurrent import RecurrentBackbone, RecurrentConvLayer
from zoo.registry import ModelConfig, register_model


class RCL(RecurrentConvLayer):
    """Recurrent convolution layer (Liang & Hu 2015, eqs. 1-3):

        z(t) = w_f * u + w_r * x(t-1) + b,   x(t) = LRN(ReLU(z(t))),   x(0) = LRN(ReLU(w_f * u + b))

    with the LRN of the paper, b / (1 + alpha/n * sum over n neighbouring channels of b^2)^beta,
    n = channels/8 + 1, alpha = 1e-3, beta = 0.75.
    """

    def __init__(self, in_channels: int, out_channels: int, recurrent_steps: int = 5, share_weights: bool = True):
        super().__init__(recurrent_steps, share_weights)
        self.ff_conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=True)  # w_f and b
        self.rec_conv = self.recurrent(lambda: nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False))
        self.lrn = ChannelLRN(out_channels, out_channels // 8 + 1, alpha=1e-3, beta=0.75, k=1.0)

    def feedforward(self, u: torch.Tensor) -> torch.Tensor:
        return self.ff_conv(u)

    def initial_state(self, ff: torch.Tensor) -> torch.Tensor:
        return self.lrn(torch.relu(ff))

    def step(self, t: int, ff: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.lrn(torch.relu(ff + self.at(self.rec_conv, t)(x)))


@register_model(ModelConfig(
    paper="RCNN, Liang & Hu 2015",
    citation="M. Liang, X. Hu. Recurrent Convolutional Neural Network for Object Recognition. CVPR 2015. "
             "Used for text as the ungated baseline of J. Wang, X. Hu, Gated Recurrent Convolution "
             "Neural Network for OCR, NIPS 2017.",
    hidden_size=512,
    notes="GRCNN's layout and head with RCL in place of GRCL; weights shared over the steps as in "
          "Liang & Hu. The GRCNN paper does not tabulate its IC03 numbers.",
))
def rcnn(in_chans: int = 1, recurrent_steps: int = 5, share_weights: bool = True) -> RecurrentBackbone:
    return RecurrentBackbone(functools.partial(RCL, recurrent_steps=recurrent_steps, share_weights=share_weights),
                             in_chans)
