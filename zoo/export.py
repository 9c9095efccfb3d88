"""Export a model for deployment: fp16 safetensors (the zoo's own format) and ONNX.

ONNX has one exporter here, ``export_onnx``: torch.onnx's dynamo path (``torch.export``), for the
plain ``Recognizer`` and for the fast path (``zoo.models.fast.FastRecognizer``, whose folded
network is what is exported). The graph takes ``images`` (batch, channels, height, width) with
batch and width dynamic and returns ``logits`` (batch, frames, classes), class 0 the CTC blank.
Everything a reader needs to feed and decode it travels inside the file, in the model's
``metadata_props`` (``METADATA``), so no file beside it is needed. Before the file is written it
is run in ONNX Runtime against PyTorch at a batch and width other than the traced example's; a
difference beyond the tolerance refuses the export and leaves nothing at the output path.

TorchScript is not offered: ``torch.jit`` is deprecated in torch, nothing in the zoo loads a
TorchScript file, and ONNX covers deployment without PyTorch (docs/training.md, "Exporting").
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Sequence

import torch

from zoo.checkpoint import model_spec, save_weights
from zoo.fileio import atomic_path
from zoo.outputs import replaces_own

FORMATS = ("safetensors", "onnx")
SUFFIX = {"safetensors": ".safetensors", "onnx": ".onnx"}
REMOVED = {"torchscript": "TorchScript export was removed (torch.jit is deprecated in torch); use --format onnx "
                          "and run the file with ONNX Runtime (charset and preprocessing are in its metadata)"}
ATOL = 1e-4  # fp32 graphs compute the same function: 1e-4 on the logits, as every round trip is tested
CHECK_BATCH, CHECK_WIDTH = 3, 157  # the export's check: another batch and width than the traced example's
# metadata_props of every exported model: key -> what its value is
METADATA = {
    "name": "the registered model name",
    "charset": "class i (1..) is charset[i - 1]; class 0 is the CTC blank",
    "preprocess": "JSON: resize to height (width: width_policy, width, max_width), in_chans channels, scale to "
                  "[0, 1], then (x - mean) / std per channel (zoo.data.transforms.Preprocess)",
    "spec": "JSON: zoo.checkpoint.model_spec, what rebuilds the PyTorch model (zoo.factory.build_from_spec)",
}


def example_input(model, batch: int = 2, width: int = 100, seed: int = 0) -> torch.Tensor:
    """Images in the preprocessed range, [-1, 1] for the default mean/std."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, model.config.in_chans, model.config.height, width, generator=generator) * 2 - 1


def is_zoo_export(path: Path) -> bool:
    """Whether ``path`` is a model the zoo wrote (safetensors with its model spec, ONNX with its
    metadata): what an export may replace; anything else at the target is the user's."""
    if path.suffix == ".safetensors":
        from zoo.checkpoint import read_safetensors
        try:
            return "model_spec" in read_safetensors(path)[0]
        except (ValueError, OSError):  # damaged (read_safetensors says so as a ValueError) or unreadable
            return False
    if path.suffix == ".onnx":
        import onnx
        from google.protobuf.message import DecodeError
        try:
            return any(p.key == "spec" for p in onnx.load(str(path), load_external_data=False).metadata_props)
        except (DecodeError, OSError):  # not a protobuf, or unreadable
            return False
    return False


def check_format(fmt: str) -> str:
    if fmt in REMOVED:
        raise ValueError(REMOVED[fmt])
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def export(model, fmt: str, out: str | Path, inputs: Sequence[str | Path] = ()) -> Path:
    """Write ``model`` (in eval mode) to ``out`` in format ``fmt``; returns the path written. It
    replaces only the zoo's own export (``is_zoo_export``), never one of ``inputs``."""
    if check_format(fmt) == "safetensors":
        return save_weights(out, model.eval(), replaceable=replaces_own(is_zoo_export, inputs))
    export_onnx(model, out, inputs)
    return Path(out)


def export_onnx(model, out: str | Path, inputs: Sequence[str | Path] = ()) -> float:
    """Export a ``Recognizer`` or a fp32 ``FastRecognizer`` to ONNX at ``out`` (see the module doc);
    returns the largest |ONNX Runtime - PyTorch| logit difference, which must be within ``ATOL``
    for the file to be written. It replaces only the zoo's own export, never one of ``inputs``, and
    says so before the export starts."""
    from zoo.data.transforms import Preprocess

    network, plain = onnx_network(model)
    config = plain.config
    metadata = {"name": config.name, "charset": config.charset, "spec": json.dumps(model_spec(plain)),
                "preprocess": json.dumps(Preprocess.from_config(config).as_dict())}
    with atomic_path(out, replaces_own(is_zoo_export, inputs)) as tmp:
        program = dynamo_export(network, example_input(plain), {0: "batch", 3: "width"}, "images", "logits")
        program.model.metadata_props.update(metadata)
        program.model.doc_string = "; ".join(f"{key}: {what}" for key, what in METADATA.items())
        program.save(str(tmp), external_data=False)
        images = example_input(plain, CHECK_BATCH, CHECK_WIDTH, seed=1)
        with torch.no_grad():
            expected = model(images)
        difference = (OnnxRuntimeModule(tmp.read_bytes())(images) - expected).abs().max().item()
        if not difference <= ATOL:  # also refuses NaN
            raise RuntimeError(f"ONNX Runtime's logits differ from PyTorch's by {difference:.3g} (> {ATOL:g}) at "
                               f"batch {CHECK_BATCH}, width {CHECK_WIDTH}; nothing written to {out}")
    return difference


def onnx_network(model) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The module to trace and the plain model whose config and spec describe it."""
    from zoo.models.fast import FastRecognizer

    if not isinstance(model, FastRecognizer):
        return model.eval(), model
    if model.precision != "fp32":
        raise ValueError(f"ONNX export takes the fp32 fast path, not {model.precision}: ONNX Runtime's CPU "
                         "provider has no bf16 convolutions")
    return model.net, model.plain


def dynamo_export(module: torch.nn.Module, example: torch.Tensor, dynamic: dict[int, str], input_name: str,
                  output_name: str):
    """``torch.onnx.export(dynamo=True)`` of ``module`` (eval mode) with the named dimensions of its
    one input dynamic; returns the ``ONNXProgram`` (its ``.model`` is editable before ``save``)."""
    from torch.export import Dim
    from torch.export._patches import register_lstm_while_loop_decomposition  # the exporter's own (below)

    shapes = ({axis: Dim(name) for axis, name in dynamic.items()},)
    with warnings.catch_warnings(), register_lstm_while_loop_decomposition():
        # The exporter captures nn.LSTM with this sequence-length-independent decomposition but runs
        # its later passes (decompositions, type promotion) without it, on the default one that unrolls
        # the LSTM over the example's frames: that pins the frame count to the example's (26) in the
        # graph's output shape and took 70-150 s instead of 10 s for grcnn_small. Holding it over the
        # whole export keeps frames symbolic ((width // 4) + 1) everywhere.
        # That decomposition calls torch's own soon-renamed _check_is_size; nothing of ours to change:
        warnings.filterwarnings("ignore", message="_check_is_size will be removed", category=FutureWarning)
        # LSTM weights are attributes, not parameters, to torch.export; the exporter reads them all the same
        warnings.filterwarnings("ignore", message="The tensor attributes .*_flat_weights", category=UserWarning)
        return torch.onnx.export(module.eval(), (example,), dynamo=True, verbose=False, external_data=False,
                                 input_names=[input_name], output_names=[output_name], dynamic_shapes=shapes)


class OnnxRuntimeModule(torch.nn.Module):
    """An ONNX model (its serialised bytes, kept as ``onnx_model``: write them to a file to deploy it)
    run by ONNX Runtime's CPU provider, called like the torch module it was exported from: one
    tensor in, its first output out as a tensor. Intra-op threads: torch's thread count when it is
    built, so both frameworks are timed on the same cores."""

    def __init__(self, model: bytes):
        import onnxruntime as ort

        super().__init__()
        self.onnx_model = model
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ONNX Runtime reads a dense array: the zoo's channels_last batches are copied into NCHW order
        return torch.from_numpy(self.session.run(None, {self.input_name: x.contiguous().numpy()})[0])
