"""int8 inference: past the fp32 convolution peak on CPUs with int8 matrix units (AMX/VNNI).

``quantize_int8(model, calibration)`` returns a copy of a plain ``Recognizer`` whose backbone and
head are ONNX Runtime sessions of int8 graphs, both exported with ``zoo.export``'s exporter:

- the backbone is the fast path's folded one (``zoo.models.fast``: every BatchNorm folded into its
  convolution), statically quantized by ONNX Runtime in QDQ form: per-channel int8 weights, uint8
  activations with one scale per tensor from the calibration images' range. Each recurrent step is
  a convolution on a tensor of its own in the graph, so each step's activations get their own
  scale whether or not the steps share weights (torch's FX quantization observed modules, and one
  scale for the five steps of RCNN's shared convolution cost 2 IC03 points, docs/performance.md).
  RCL's LRN (a power of a sum of squares) stays fp32: int8 cannot hold its dynamic range.
- the BiLSTM head is dynamically quantized: int8 LSTM and Linear weights, activations quantized
  per batch.

This replaces FX graph-mode quantization, which torch deprecates with all of
``torch.ao.quantization``. Its successor, pt2e, has left torch for torchao, and its int8 graphs
become int8 kernels only when inductor compiles them (``torch.compile``). The copy computes the
same function to int8 precision; what that costs in accuracy is measured with ``zoo eval
--precision int8`` (docs/performance.md). The copy is for inference only: its backbone and head
are sessions, not layers (``.onnx_model`` holds each int8 graph).

Calibration images must come from training-like data (rendered words), never a benchmark:
``calibration_images`` renders them.
"""
from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import torch
from torch import nn

CALIBRATION_LMDB = "runs/data/calibration-256.lmdb"  # rendered words, seed 4: not the train/val/test seeds


@torch.no_grad()
def quantize_int8(model: nn.Module, calibration: torch.Tensor, batch_size: int = 32) -> nn.Module:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    from zoo.export import OnnxRuntimeModule
    from zoo.models.fast import FastRecognizer

    model = model.eval()
    features = model.backbone(calibration[:2]).squeeze(2).transpose(1, 2)
    with tempfile.TemporaryDirectory() as tmp:
        backbone = prepared_graph(FastRecognizer(model).net.features, calibration[:2], {0: "batch", 3: "width"},
                                  "images", "features", Path(tmp) / "backbone")
        quantize_static(backbone, Path(tmp) / "backbone-int8.onnx", CalibrationImages(calibration, batch_size),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_exclude=lrn_nodes(backbone))
        head = prepared_graph(model.head, features, {0: "batch", 1: "frames"}, "features", "logits",
                              Path(tmp) / "head")
        quantize_dynamic(head, Path(tmp) / "head-int8.onnx", weight_type=QuantType.QInt8)
        quantized = copy.deepcopy(model)
        quantized.backbone = OnnxRuntimeModule((Path(tmp) / "backbone-int8.onnx").read_bytes())
        quantized.head = OnnxRuntimeModule((Path(tmp) / "head-int8.onnx").read_bytes())
    return quantized


def prepared_graph(module: nn.Module, example: torch.Tensor, dynamic: dict[int, str], input_name: str,
                   output_name: str, stem: Path) -> Path:
    """``module`` exported by ``zoo.export``'s exporter to ``stem.onnx``, then prepared for quantization
    at ``stem-prepared.onnx`` by ONNX Runtime's pre-processing (shape inference and its graph
    optimisations, so that fused nodes are what gets quantized: GRCNN's int8 graph ran 1.5x, CRNN's
    1.3x faster at batch 64 for it, docs/performance.md)."""
    from onnxruntime.quantization import quant_pre_process

    from zoo.export import dynamo_export

    exported, prepared = stem.with_suffix(".onnx"), stem.with_name(f"{stem.name}-prepared.onnx")
    dynamo_export(module, example, dynamic, input_name, output_name).save(str(exported))
    quant_pre_process(str(exported), str(prepared))
    return prepared


class CalibrationImages:
    """ONNX Runtime's calibration reader (``get_next``: one input dict per call, None at the end)
    over the calibration images in batches."""

    def __init__(self, images: torch.Tensor, batch_size: int):
        self.batches = iter(images.split(batch_size))

    def get_next(self) -> dict | None:
        batch = next(self.batches, None)
        return None if batch is None else {"images": batch.contiguous().numpy()}


def lrn_nodes(path: Path) -> list[str]:
    """The nodes the exporter traced inside a ``ChannelLRN`` (it records each node's module classes)."""
    import onnx

    from zoo.models.layers import ChannelLRN

    lrn = f"{ChannelLRN.__module__}.{ChannelLRN.__qualname__}"
    return [node.name for node in onnx.load(str(path)).graph.node
            if any(p.key == "pkg.torch.onnx.class_hierarchy" and lrn in p.value for p in node.metadata_props)]


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
