"""Static facts about a model: parameters and FLOPs (``zoo models`` tabulates them: ``zoo.factory.summary``)."""
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
