"""Plain PyTorch GRCNN, RCNN and CRNN: the baselines ``zoo bench`` measures the zoo against.

Part of the package (not of benchmarks/) so that an installed zoo, not only a checkout, has them.

Written the straightforward way, one module per term of each equation as in clovaai's
deep-text-recognition-benchmark (``GRCL`` / ``GRCL_unit``, ``BidirectionalLSTM``): every
BatchNorm is its own module applied to its own tensor, every addition and activation a separate
op, NCHW layout, fp32. The networks are the zoo's (same layout, same BN placement: GRCNN's
feed-forward BNs are applied once, as in the official Caffe code, where clovaai's ``GRCL_unit``
re-applies them at every step), so ``load_zoo_weights`` loads a zoo state dict into them and both
compute the same function of the same weights.
"""
from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn


class GRCLUnit(nn.Module):
    """One iteration t of GRCL (Wang & Hu eqs. 6-7), given the four convolution outputs."""

    def __init__(self, channels: int):
        super().__init__()
        self.BN_grx = nn.BatchNorm2d(channels)
        self.BN_rx = nn.BatchNorm2d(channels)
        self.BN_Gx = nn.BatchNorm2d(channels)

    def forward(self, gf_u: torch.Tensor, wgr_x: torch.Tensor, f_u: torch.Tensor, wr_x: torch.Tensor) -> torch.Tensor:
        G_first_term = gf_u
        G_second_term = self.BN_grx(wgr_x)
        G = torch.sigmoid(G_first_term + G_second_term)          # G(t) = sigmoid(BN(w_gf*u) + BN(w_gr*x))
        x_first_term = f_u
        x_second_term = self.BN_Gx(self.BN_rx(wr_x) * G)
        return F.relu(x_first_term + x_second_term)              # x(t) = ReLU(BN(w_f*u) + BN(BN(w_r*x)*G))


class GRCL(nn.Module):
    def __init__(self, cin: int, cout: int, recurrent_steps: int, share_weights: bool):
        super().__init__()
        kernels = 1 if share_weights else recurrent_steps
        self.wgf_u = nn.Conv2d(cin, cout, 1, bias=False)
        self.wf_u = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.BN_gfu = nn.BatchNorm2d(cout)
        self.BN_fu = nn.BatchNorm2d(cout)
        self.wgr_x = nn.ModuleList(nn.Conv2d(cout, cout, 1, bias=False) for _ in range(kernels))
        self.wr_x = nn.ModuleList(nn.Conv2d(cout, cout, 3, padding=1, bias=False) for _ in range(kernels))
        self.units = nn.ModuleList(GRCLUnit(cout) for _ in range(recurrent_steps))
        self.share_weights = share_weights

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        gf_u = self.BN_gfu(self.wgf_u(u))
        f_u = self.BN_fu(self.wf_u(u))
        x = F.relu(f_u)                                           # x(0) = ReLU(BN(w_f*u))
        for t, unit in enumerate(self.units):
            k = 0 if self.share_weights else t
            x = unit(gf_u, self.wgr_x[k](x), f_u, self.wr_x[k](x))
        return x


class RCL(nn.Module):
    """Liang & Hu eqs. 1-3: x(t) = LRN(ReLU(w_f*u + b + w_r*x(t-1)))."""

    def __init__(self, cin: int, cout: int, recurrent_steps: int, share_weights: bool):
        super().__init__()
        kernels = 1 if share_weights else recurrent_steps
        self.wf_u = nn.Conv2d(cin, cout, 3, padding=1)
        self.wr_x = nn.ModuleList(nn.Conv2d(cout, cout, 3, padding=1, bias=False) for _ in range(kernels))
        self.lrn = nn.LocalResponseNorm(cout // 8 + 1, alpha=1e-3, beta=0.75, k=1.0)
        self.recurrent_steps, self.share_weights = recurrent_steps, share_weights

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        f_u = self.wf_u(u)
        x = self.lrn(F.relu(f_u))
        for t in range(self.recurrent_steps):
            x = self.lrn(F.relu(f_u + self.wr_x[0 if self.share_weights else t](x)))
        return x


def conv_bn_relu(cin: int, cout: int, kernel: int = 3, padding: int = 1, bn: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, padding=padding, bias=not bn)]
    return layers + ([nn.BatchNorm2d(cout)] if bn else []) + [nn.ReLU()]


def pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(2, 2)


def pool_keep_width() -> nn.MaxPool2d:
    return nn.MaxPool2d((2, 2), (2, 1), (0, 1))


def recurrent_backbone(layer: type, recurrent_steps: int, share_weights: bool) -> nn.Sequential:
    """GRCNN's layout: conv3-64, P, L(64,64), P, L(64,128), P', L(128,256), P', conv2-512 + BN."""
    return nn.Sequential(
        *conv_bn_relu(1, 64, bn=False), pool(),
        layer(64, 64, recurrent_steps, share_weights), pool(),
        layer(64, 128, recurrent_steps, share_weights), pool_keep_width(),
        layer(128, 256, recurrent_steps, share_weights), pool_keep_width(),
        *conv_bn_relu(256, 512, kernel=2, padding=0))


def vgg_backbone() -> nn.Sequential:
    """CRNN's VGG (official code: BN after conv3, conv5, conv7)."""
    return nn.Sequential(
        *conv_bn_relu(1, 64, bn=False), pool(),
        *conv_bn_relu(64, 128, bn=False), pool(),
        *conv_bn_relu(128, 256), *conv_bn_relu(256, 256, bn=False), pool_keep_width(),
        *conv_bn_relu(256, 512), *conv_bn_relu(512, 512, bn=False), pool_keep_width(),
        *conv_bn_relu(512, 512, kernel=2, padding=0))


class BidirectionalLSTM(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, bidirectional=True, batch_first=True)
        self.linear = nn.Linear(hidden_size * 2, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.rnn(x)[0])


class ReferenceRecognizer(nn.Module):
    def __init__(self, cnn: nn.Sequential, hidden_size: int, num_classes: int):
        super().__init__()
        self.cnn = cnn
        self.rnn = nn.Sequential(BidirectionalLSTM(512, hidden_size, hidden_size),
                                 BidirectionalLSTM(hidden_size, hidden_size, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        visual = self.cnn(images).squeeze(2).permute(0, 2, 1)   # (N, 512, 1, W') -> (N, W', 512)
        return self.rnn(visual)


# name -> (backbone, head hidden size) from the zoo model's options (``model.config.options``), so that
# a recipe's variant (hidden_size: 256, recurrent_steps: 3) gets its own plain reference; unset: the paper's
BUILDERS = {
    "grcnn": lambda o: (recurrent_backbone(GRCL, o.get("recurrent_steps", 5), o.get("share_weights", False)),
                        o.get("hidden_size", 512)),
    "grcnn_small": lambda o: (recurrent_backbone(GRCL, o.get("recurrent_steps", 3), o.get("share_weights", True)),
                              o.get("hidden_size", 512)),
    "rcnn": lambda o: (recurrent_backbone(RCL, o.get("recurrent_steps", 5), o.get("share_weights", True)),
                       o.get("hidden_size", 512)),
    "crnn_vgg": lambda o: (vgg_backbone(), o.get("hidden_size", 256)),
}

# zoo parameter name -> reference parameter name, inside one layer (``features.<i>.``)
RENAMES = [
    (r"\.ff_conv\.", ".wf_u."), (r"\.ff_bn\.", ".BN_fu."),
    (r"\.gate_ff_conv\.", ".wgf_u."), (r"\.gate_ff_bn\.", ".BN_gfu."),
    (r"\.rec_conv\.", ".wr_x."), (r"\.gate_rec_conv\.", ".wgr_x."),
    (r"\.rec_bn\.(\d+)\.", r".units.\1.BN_rx."), (r"\.gate_rec_bn\.(\d+)\.", r".units.\1.BN_grx."),
    (r"\.gated_bn\.(\d+)\.", r".units.\1.BN_Gx."),
    (r"^backbone\.features\.", "cnn."), (r"^head\.", "rnn."), (r"\.proj\.", ".linear."),
]


def reference_model(name: str, num_classes: int = 37, options: dict | None = None) -> ReferenceRecognizer:
    if name not in BUILDERS:
        raise KeyError(f"no plain reference for {name!r}; references exist for {', '.join(BUILDERS)}")
    options = options or {}
    if options.get("head", "bilstm") != "bilstm" or options.get("in_chans", 1) != 1:
        raise ValueError(f"the plain reference of {name} has CRNN's BiLSTM head and one input channel, not "
                         f"head {options.get('head')!r} with in_chans {options.get('in_chans')}")
    cnn, hidden = BUILDERS[name](options)
    return ReferenceRecognizer(cnn, hidden, num_classes)


def zoo_to_reference_key(key: str) -> str:
    for pattern, replacement in RENAMES:
        key = re.sub(pattern, replacement, key)
    return key


def load_zoo_weights(reference: ReferenceRecognizer, state_dict: dict) -> ReferenceRecognizer:
    """Load a zoo ``Recognizer`` state dict (same network, zoo parameter names), strictly."""
    reference.load_state_dict({zoo_to_reference_key(k): v for k, v in state_dict.items()})
    return reference


def from_zoo(model: nn.Module) -> ReferenceRecognizer:
    """The plain reference of a zoo model, with its weights and train/eval mode."""
    reference = reference_model(model.config.name, model.num_classes, model.config.options)
    return load_zoo_weights(reference, model.state_dict()).train(model.training)
