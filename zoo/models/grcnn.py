"""GRCNN: gated recurrent convolution layers (Wang & Hu, NIPS 2017), as in the official code."""
from __future__ import annotations

import functools

import torch
from torch import nn

from zoo.models.recurrent import RecurrentBackbone, RecurrentConvLayer
from zoo.registry import ModelConfig, register_model


class GRCL(RecurrentConvLayer):
    """Gated recurrent convolution layer (Wang & Hu 2017, eqs. 5-7, official BN placement):

        x(0) = ReLU(BN(w_f * u))
        G(t) = sigmoid(BN(w_gf * u) + BN(w_gr * x(t-1)))                 w_gf, w_gr: 1x1
        x(t) = ReLU(BN(w_f * u) + BN(BN(w_r * x(t-1)) * G(t)))           w_f, w_r: 3x3

    The feed-forward terms BN(w_f * u) and BN(w_gf * u) are computed once and reused by every step.
    """

    def __init__(self, in_channels: int, out_channels: int, recurrent_steps: int = 5, share_weights: bool = False):
        super().__init__(recurrent_steps, share_weights)

        def conv(cin: int, kernel: int) -> nn.Conv2d:
            return nn.Conv2d(cin, out_channels, kernel, padding=kernel // 2, bias=False)

        def bn() -> nn.BatchNorm2d:
            return nn.BatchNorm2d(out_channels)

        self.ff_conv, self.ff_bn = conv(in_channels, 3), bn()              # w_f
        self.gate_ff_conv, self.gate_ff_bn = conv(in_channels, 1), bn()    # w_gf
        self.rec_conv = self.recurrent(lambda: conv(out_channels, 3))      # w_r
        self.gate_rec_conv = self.recurrent(lambda: conv(out_channels, 1))  # w_gr
        self.rec_bn, self.gate_rec_bn, self.gated_bn = (self.per_step(bn) for _ in range(3))

    def feedforward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ff_bn(self.ff_conv(u)), self.gate_ff_bn(self.gate_ff_conv(u))

    def initial_state(self, ff: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return torch.relu(ff[0])

    def step(self, t: int, ff: tuple[torch.Tensor, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        f, gf = ff
        gate = torch.sigmoid(gf + self.gate_rec_bn[t](self.at(self.gate_rec_conv, t)(x)))
        if self.recorded is not None:
            self.recorded.append(gate.detach())
        return torch.relu(f + self.gated_bn[t](self.rec_bn[t](self.at(self.rec_conv, t)(x)) * gate))


_GRCNN_PAPER = dict(
    paper="GRCNN, Wang & Hu 2017",
    citation="J. Wang, X. Hu. Gated Recurrent Convolution Neural Network for OCR. NIPS 2017.",
    hidden_size=512,
)


@register_model(ModelConfig(
    **_GRCNN_PAPER,
    reported={"IC03-860": {"None": 91.2, "50": 98.8, "Full": 97.8}, "SVT-647": {"None": 81.5, "50": 96.3},
              "IIIT5K-3000": {"None": 80.8, "50": 98.0, "1k": 95.6}},
    reported_source="Wang & Hu 2017 (median of 10 models, as cited by later work)",
    notes="The released model: T=5, recurrent weights not shared, BiLSTM 512. Fixed 100x32 input.",
))
def grcnn(in_chans: int = 1, recurrent_steps: int = 5, share_weights: bool = False) -> RecurrentBackbone:
    return RecurrentBackbone(functools.partial(GRCL, recurrent_steps=recurrent_steps, share_weights=share_weights),
                             in_chans)


@register_model(ModelConfig(
    **_GRCNN_PAPER,
    notes="The official 'small' model: T=3 with recurrent weights shared over the steps.",
))
def grcnn_small(in_chans: int = 1, recurrent_steps: int = 3, share_weights: bool = True) -> RecurrentBackbone:
    return grcnn(in_chans, recurrent_steps, share_weights)
