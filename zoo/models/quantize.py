"""int8 inference: past the fp32 convolution peak on CPUs with int8 matrix units (AMX/VNNI).

``quantize_int8(model, calibration)`` returns a copy of a plain ``Recognizer`` whose backbone is
statically quantized (PyTorch FX graph mode, x86 backend: per-channel int8 weights, activations
scaled from the calibration images) and whose BiLSTM head is dynamically quantized (int8 weights,
activations quantized per batch). Shared recurrent weights are copied per step first, so that
each step's activations get their own scale. The copy computes the same function to int8
precision; what that costs in accuracy is measured with ``zoo eval --precision int8``
(docs/performance.md).

Calibration images must come from training-like data (rendered words), never a benchmark:
``calibration_images`` renders them.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

import torch
from torch import nn

CALIBRATION_LMDB = "runs/data/calibration-256.lmdb"  # rendered words, seed 4: not the train/val/test seeds


@torch.no_grad()
def quantize_int8(model: nn.Module, calibration: torch.Tensor, batch_size: int = 32) -> nn.Module:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.fx.custom_config import PrepareCustomConfig
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from zoo.models.layers import ChannelLRN
    from zoo.models.recurrent import RecurrentConvLayer

    quantized = copy.deepcopy(model).eval()
    for layer in quantized.modules():  # an activation scale per recurrent step, not one for all
        if isinstance(layer, RecurrentConvLayer):
            layer.unshare()
    # RCL's LRN (a power of a sum of squares) stays fp32: int8 cannot hold its dynamic range
    mapping = get_default_qconfig_mapping("x86").set_object_type(ChannelLRN, None)
    custom = PrepareCustomConfig().set_non_traceable_module_classes([ChannelLRN])
    with warnings.catch_warnings():  # FX quantization's deprecation notice (torch.ao -> torchao)
        warnings.simplefilter("ignore")
        prepared = prepare_fx(quantized.backbone, mapping, example_inputs=(calibration[:1],),
                              prepare_custom_config=custom)
        for batch in calibration.split(batch_size):
            prepared(batch)
        quantized.backbone = convert_fx(prepared)
        quantized.head = torch.ao.quantization.quantize_dynamic(quantized.head, {nn.LSTM, nn.Linear},
                                                                dtype=torch.qint8)
    return quantized


def calibration_images(model: nn.Module, count: int = 256, path: str | Path = CALIBRATION_LMDB) -> torch.Tensor:
    """``count`` rendered words, preprocessed for ``model`` at its configured width (rendered on
    first use with ``zoo data synth``'s renderer)."""
    from zoo.data.charset import Charset
    from zoo.data.lmdb import LmdbReader
    from zoo.data.transforms import Preprocess
    from zoo.train.recipe import SynthSection
    from zoo.train.data import ensure_lmdb

    ensure_lmdb(str(path), SynthSection(n=count, seed=4), Charset.from_config(model.config), "calibration")
    preprocess = Preprocess.from_config(model.config, width_policy="fixed")
    reader = LmdbReader(path)
    return torch.stack([preprocess(reader.image(i)) for i in range(1, min(count, len(reader)) + 1)])
