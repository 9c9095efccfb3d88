"""The optimised inference path: the same weights as the plain model, rearranged for speed.

``FastRecognizer(model)`` computes what ``model.eval()`` computes, faster on CPU:

- every eval-mode BatchNorm is folded into the convolution before it (BN(w * x) = w' * x + b');
- GRCL's three BNs per step fold into its two recurrent convolutions, so a step is two convs and
  three element-wise passes instead of two convs and eight (see ``FastGRCL``);
- activations are kept channels_last, the layout oneDNN's convolutions and the max pools run
  fastest in (NCHW makes every convolution reorder its input and output);
- optionally everything runs in bfloat16 (``precision="bf16"``), which this machine's AMX units
  execute several times faster than fp32; the outputs then differ from fp32 by ~1e-2.

Speed work must not change what a checkpoint means: ``FastRecognizer`` keeps the plain model and
its ``state_dict`` / ``load_state_dict`` are the plain model's (loading re-folds the weights).
It is inference only: ``train()`` raises, as folded BatchNorms cannot learn. ONNX:
``zoo.export.export_onnx(FastRecognizer(model), path)`` exports the folded network.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from zoo.models.grcnn import GRCL
from zoo.models.rcnn import RCL
from zoo.models.recognizer import Recognizer

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of the single convolution equal to ``bn(conv(x))`` in eval mode:
    BN(y) = s * y + (beta - s * mean) with s = gamma / sqrt(var + eps)."""
    weight = conv.weight.detach()
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros(weight.shape[0])
    if bn is None:
        return weight.clone(), bias.clone()
    scale, shift = bn_affine(bn)
    return weight * scale.view(-1, 1, 1, 1), bias * scale + shift


def bn_affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as y = scale * x + shift, per channel."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias.detach() - scale * bn.running_mean


class FoldedConv(nn.Module):
    """A convolution with a BatchNorm folded in (weights are buffers: derived, not learned)."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None, scale: torch.Tensor | None = None):
        super().__init__()
        weight, bias = fold_batchnorm(conv, bn)
        if scale is not None:  # a per-channel factor applied after the BN (GRCL's gated BN)
            weight, bias = weight * scale.view(-1, 1, 1, 1), bias * scale
        self.register_buffer("weight", weight.contiguous())
        self.register_buffer("bias", bias.contiguous())
        self.stride, self.padding = conv.stride, conv.padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class FastGRCL(nn.Module):
    """GRCL (``zoo.models.grcnn``, Wang & Hu eqs. 5-7) with its BNs folded. Writing the per-step
    gated BN as gated(y) = a_t * y + c_t, the step

        x(t) = ReLU(BN_f(w_f * u) + gated(BN_r(w_r * x(t-1)) * G(t)))

    becomes x(t) = ReLU(f + c_t + r_t(x(t-1)) * G(t)), where f = BN_f(w_f * u) is one folded conv
    computed once and r_t = a_t * BN_r(w_r * .) is one folded conv (a_t scales a BN output, so it
    folds in too); G(t) = sigmoid(g_f + g_t(x(t-1))) with both gate BNs folded into their convs."""

    def __init__(self, layer: GRCL):
        super().__init__()
        self.feedforward = FoldedConv(layer.ff_conv, layer.ff_bn)
        self.gate_feedforward = FoldedConv(layer.gate_ff_conv, layer.gate_ff_bn)
        steps = range(layer.recurrent_steps)
        gated = [bn_affine(layer.gated_bn[t]) for t in steps]  # (a_t, c_t)
        self.recurrent = nn.ModuleList(
            FoldedConv(layer.at(layer.rec_conv, t), layer.rec_bn[t], scale=gated[t][0]) for t in steps)
        self.gate_recurrent = nn.ModuleList(
            FoldedConv(layer.at(layer.gate_rec_conv, t), layer.gate_rec_bn[t]) for t in steps)
        self.register_buffer("gated_shift", torch.stack([c for _, c in gated]) if gated else torch.zeros(0))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        f = self.feedforward(u)
        gate_f = self.gate_feedforward(u)
        x = torch.relu(f)
        for t, (recurrent, gate_recurrent) in enumerate(zip(self.recurrent, self.gate_recurrent)):
            gate = gate_recurrent(x).add_(gate_f).sigmoid_()
            x = recurrent(x).mul_(gate).add_(f).add_(self.gated_shift[t].view(1, -1, 1, 1)).relu_()
        return x


class FastRCL(nn.Module):
    """RCL (``zoo.models.rcnn``, Liang & Hu eqs. 1-3) with BatchNorm-free folded convolutions and
    in-place element-wise steps."""

    def __init__(self, layer: RCL):
        super().__init__()
        self.feedforward = FoldedConv(layer.ff_conv)
        self.recurrent = nn.ModuleList(FoldedConv(layer.at(layer.rec_conv, t)) for t in range(layer.recurrent_steps))
        self.lrn = layer.lrn  # already a banded 1x1 convolution (zoo.models.layers.ChannelLRN)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        f = self.feedforward(u)
        x = self.lrn(torch.relu(f))
        for recurrent in self.recurrent:
            x = self.lrn(recurrent(x).add_(f).relu_())
        return x


def fast_features(features: nn.Sequential) -> nn.Sequential:
    """The backbone's layers with each Conv2d+BatchNorm2d pair folded, GRCL/RCL replaced by their
    fast forms, ReLUs in place; other layers (pools, DenseNet blocks) are kept as they are."""
    layers, modules, i = [], list(features), 0
    while i < len(modules):
        m = modules[i]
        following = modules[i + 1] if i + 1 < len(modules) else None
        if isinstance(m, nn.Conv2d) and isinstance(following, nn.BatchNorm2d):
            layers.append(FoldedConv(m, following))
            i += 2
            continue
        if isinstance(m, nn.Conv2d):
            layers.append(FoldedConv(m))
        elif isinstance(m, GRCL):
            layers.append(FastGRCL(m))
        elif isinstance(m, RCL):
            layers.append(FastRCL(m))
        elif isinstance(m, nn.ReLU):
            layers.append(nn.ReLU(inplace=True))
        else:
            layers.append(m)
        i += 1
    return nn.Sequential(*layers)


class FoldedNetwork(nn.Module):
    """The computation of the fast path: folded backbone layers and a copy of the head, in one
    dtype, activations channels_last. Its buffers are derived from a plain model, never saved."""

    def __init__(self, model: Recognizer, dtype: torch.dtype):
        super().__init__()
        self.name, self.height, self.dtype = model.config.name, model.config.height, dtype
        self.features = fast_features(copy.deepcopy(model.backbone.features)).to(
            dtype=dtype, memory_format=torch.channels_last)
        self.head = copy.deepcopy(model.head).to(dtype)
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feats = self.features(images.to(dtype=self.dtype, memory_format=torch.channels_last))
        if feats.shape[2] != 1:
            raise ValueError(f"{self.name} expects images {self.height} px high (got {images.shape[2]}): resize "
                             f"with the model's preprocessing")
        return self.head(feats.squeeze(2).transpose(1, 2)).float()


class FastRecognizer(nn.Module):
    """``model`` (a plain ``Recognizer``) for inference through a ``FoldedNetwork``.

    ``state_dict`` / ``load_state_dict`` are the plain model's: a checkpoint means the same thing
    in both paths, and loading one re-folds. The plain model is kept (``.plain``) but is not a
    submodule, so the folded copy is the only computation a tracer or exporter sees (``.net``)."""

    def __init__(self, model: Recognizer, precision: str = "fp32"):
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        self.__dict__["plain"] = model.eval()
        self.config = model.config
        self.precision = precision
        self.rebuild()

    def rebuild(self) -> None:
        """Fold the plain model's current weights (called after every ``load_state_dict``)."""
        with torch.no_grad():
            self.net = FoldedNetwork(self.plain, PRECISIONS[self.precision])

    def train(self, mode: bool = True) -> FastRecognizer:
        if mode:
            raise RuntimeError("FastRecognizer is inference only (its BatchNorms are folded); train the "
                               "plain model (.plain) and rebuild()")
        return super().train(False)

    def state_dict(self, *args, **kwargs):
        return self.plain.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        result = self.plain.load_state_dict(state_dict, strict=strict, assign=assign)
        self.rebuild()
        return result

    def num_frames(self, width: int) -> int:
        return self.plain.num_frames(width)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

