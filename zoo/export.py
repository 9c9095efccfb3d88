"""Export a model for deployment: fp16 safetensors (the zoo's own format), ONNX, TorchScript.

ONNX and TorchScript graphs take (batch, channels, 32, width) with batch and width dynamic and
return logits (batch, frames, classes); the model's config (charset, preprocessing) is written
beside them as ``<out>.json`` because neither format carries it.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from zoo.checkpoint import model_spec, save_weights
from zoo.fileio import atomic_path

FORMATS = ("safetensors", "onnx", "torchscript")
SUFFIX = {"safetensors": ".safetensors", "onnx": ".onnx", "torchscript": ".torchscript.pt"}


def example_input(model, batch: int = 2, width: int = 100) -> torch.Tensor:
    return torch.randn(batch, model.config.in_chans, model.config.height, width)


def export(model, fmt: str, out: str | Path) -> Path:
    """Write ``model`` (in eval mode) to ``out`` in format ``fmt``; returns the path written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    model = model.eval()
    out = Path(out)
    if fmt == "safetensors":
        return save_weights(out, model)
    with atomic_path(out) as tmp, warnings.catch_warnings():
        # Tracing warns about the Recognizer's input-height check; the height is fixed (32) by contract.
        warnings.simplefilter("ignore")
        if fmt == "onnx":
            torch.onnx.export(model, (example_input(model),), str(tmp), dynamo=False, opset_version=17,
                              input_names=["images"], output_names=["logits"],
                              dynamic_axes={"images": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "frames"}})
        else:
            torch.jit.trace(model, example_input(model)).save(str(tmp))
    with atomic_path(out.with_suffix(out.suffix + ".json")) as tmp:
        tmp.write_text(json.dumps(model_spec(model), indent=2))
    return out
