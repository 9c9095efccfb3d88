"""Static facts about a model: parameters, FLOPs and the numbers ``zoo models`` tabulates."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def lstm_flops(lstm: nn.LSTM, steps: int) -> int:
    """The gate matmuls of an LSTM (4 gates x hidden x (input + hidden) multiply-adds per step and
    direction): FlopCounterMode does not see inside the fused CPU LSTM kernel."""
    directions = 2 if lstm.bidirectional else 1
    total, in_size = 0, lstm.input_size
    for _ in range(lstm.num_layers):
        total += 2 * steps * directions * 4 * lstm.hidden_size * (in_size + lstm.hidden_size)
        in_size = lstm.hidden_size * directions
    return total


@torch.no_grad()
def gflops(model: nn.Module, height: int = 32, width: int = 100, in_chans: int = 1) -> float:
    """GFLOPs of one forward pass of one image (1 multiply-add = 2 FLOPs), counted by PyTorch's
    FlopCounterMode over convolutions and matmuls, plus the LSTMs' gate matmuls, with each LRN
    counted as the architecture defines it (a sum over ``size`` neighbouring channels)."""
    from zoo.models.layers import ChannelLRN

    adjust = 0

    def count_lstm(module: nn.LSTM, args: tuple, output: tuple) -> None:
        nonlocal adjust
        adjust += lstm_flops(module, args[0].shape[1 if module.batch_first else 0])

    def count_lrn(module: ChannelLRN, args: tuple, output: torch.Tensor) -> None:
        # the counter saw a dense channels x channels 1x1 convolution (how ChannelLRN computes the
        # window fast); the normalisation itself sums over ``size`` channels per element
        nonlocal adjust
        adjust -= 2 * args[0].numel() * (module.band.shape[0] - module.size)

    hooks = [m.register_forward_hook(count_lstm) for m in model.modules() if isinstance(m, nn.LSTM)]
    hooks += [m.register_forward_hook(count_lrn) for m in model.modules() if isinstance(m, ChannelLRN)]
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with counter:
            model(torch.zeros(1, in_chans, height, width))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return (counter.get_total_flops() + adjust) / 1e9


def summary(name: str) -> dict:
    """One row of ``zoo models``: ``name`` measured in the configuration whose accuracy the row
    shows: the shipped weights' (registry/<name>.yaml) where the zoo ships them, else the paper's
    released configuration (the registered defaults). The weights themselves are not needed."""
    from zoo.checkpoint import build_from_spec, shipped_accuracy, shipped_spec
    from zoo.registry import create_model

    spec = shipped_spec(name)
    model = build_from_spec(spec) if spec else create_model(name)
    cfg = model.config
    ic03 = cfg.reported.get("IC03-860", {})
    return {
        "model": name, "paper": cfg.paper,
        "measured": "shipped" if spec else "paper",  # which configuration the size columns are of
        "params (M)": round(count_parameters(model) / 1e6, 3),
        "CNN params (M)": round(count_parameters(model.backbone) / 1e6, 3),
        "GFLOPs": round(gflops(model, cfg.height, 100, cfg.in_chans), 3),
        "frames/100px": model.num_frames(100),
        "RF (px)": model.backbone.receptive_field,
        "head": f"{cfg.head}-{cfg.hidden_size}" if cfg.head == "bilstm" else cfg.head,
        "IC03 None": ic03.get("None"), "IC03 50": ic03.get("50"), "IC03 Full": ic03.get("Full"),
        "shipped IC03 None / 50 / Full": shipped_accuracy(name),
    }
