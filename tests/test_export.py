"""zoo export: one ONNX exporter (torch.onnx's dynamo path) for the plain and the fast path of every
registered model, dynamic batch and width, the model's contract in the file's metadata, checked in
ONNX Runtime before anything is written; fp16 safetensors; TorchScript refused with its replacement."""
import json
import warnings
from dataclasses import replace

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

import zoo
from zoo.checkpoint import save_checkpoint
from zoo.cli import main
from zoo.export import ATOL, METADATA, OnnxRuntimeModule, export, export_onnx
from zoo.factory import build_from_spec, load_model
from zoo.models.fast import FastRecognizer


# Each family at its smallest depth: what is exported (the layers, the unrolled recurrence, the dense
# concatenations) is the same at any depth, and tracing densenet's 40 layers or five unrolled GRCL steps
# took most of a minute per export.
SHALLOW = {"densenet": {"block_layers": (2, 2, 2)}, "grcnn": {"recurrent_steps": 2},
           "grcnn_small": {"recurrent_steps": 2}, "rcnn": {"recurrent_steps": 2}}


@pytest.mark.parametrize("path", ["plain", "fast"])
@pytest.mark.parametrize("name", zoo.list_models())
def test_onnx_round_trips_every_model_at_other_batches_and_widths(name, path, tmp_path, randomised):
    model = randomised(zoo.create_model(name, hidden_size=16, **SHALLOW.get(name, {})))
    with warnings.catch_warnings():
        # the deprecated exporters (TorchScript-based ONNX, torch.jit) warned; this one must not
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        difference = export_onnx(FastRecognizer(model) if path == "fast" else model, tmp_path / "m.onnx")
    assert 0 <= difference < ATOL
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # the file carries its config: nothing beside it
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    for batch, width in [(4, 64), (1, 211)]:  # neither the traced example's (2, 100) nor the export check's (3, 157)
        images = torch.rand(batch, 1, 32, width) * 2 - 1
        with torch.no_grad():
            expected = model(images).numpy()
        (logits,) = session.run(None, {"images": images.numpy()})
        assert logits.shape == (batch, model.num_frames(width), 37)
        np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
        assert np.abs(expected).max() > 0.1  # not a comparison of two near-zero arrays


def test_onnx_metadata_carries_the_models_contract(tmp_path):
    model = zoo.create_model("crnn_vgg", hidden_size=16).eval()
    model.config = replace(model.config, mean=(0.45,), std=(0.25,))  # the model's own, not the defaults
    export(model, "onnx", tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert METADATA.keys() <= meta.keys()
    assert meta["name"] == "crnn_vgg" and meta["charset"] == "0123456789abcdefghijklmnopqrstuvwxyz"
    assert json.loads(meta["preprocess"]) == {"height": 32, "width": 100, "width_policy": "keep_ratio",
                                              "max_width": 800, "in_chans": 1, "mean": [0.45], "std": [0.25]}
    rebuilt = build_from_spec(json.loads(meta["spec"]))  # the spec rebuilds the architecture, config included
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.config == model.config
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in (proto.graph.input[0], proto.graph.output[0])]
    assert dims == [["batch", 1, 32, "width"], ["batch", "((width//4)) + 1", 37]]
    assert all(key in proto.doc_string for key in METADATA)


def test_an_export_onnx_runtime_disagrees_with_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    model = zoo.create_model("crnn_vgg", hidden_size=16).eval()
    out = tmp_path / "m.onnx"
    earlier = onnx.helper.make_model(onnx.helper.make_graph([], "earlier", [], []))
    onnx.helper.set_model_props(earlier, {"spec": "{}"})  # the mark of the zoo's export: what it may replace
    onnx.save(earlier, str(out))
    before = out.read_bytes()
    run = OnnxRuntimeModule.forward
    monkeypatch.setattr(OnnxRuntimeModule, "forward", lambda self, x: run(self, x) + 1e-3)  # a corrupted graph
    with pytest.raises(RuntimeError, match=r"differ from PyTorch's by 0.001 \(> 0.0001\).*nothing written"):
        export_onnx(model, out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary left behind


def test_cli_exports_a_checkpoint_to_checked_onnx_and_refuses_torchscript(tmp_path, capsys):
    model = zoo.create_model("crnn_vgg", hidden_size=16).eval()
    ckpt = save_checkpoint(tmp_path / "best.pt", model)
    assert main(["export", str(ckpt), "--format", "onnx"]) == 0
    assert "max abs logit diff" in capsys.readouterr().err
    assert {p.key for p in onnx.load(str(tmp_path / "best.onnx")).metadata_props} >= METADATA.keys()  # beside it
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(ckpt), "--format", "torchscript"])
    assert exit_.value.code == 2  # a usage error, naming what to use instead
    assert "TorchScript export was removed" in capsys.readouterr().err
    with pytest.raises(ValueError, match="use --format onnx"):
        export(model, "torchscript", tmp_path / "m.pt")
    assert not (tmp_path / "best.torchscript.pt").exists() and not (tmp_path / "m.pt").exists()


def test_cli_exports_a_checkpoint_to_fp16_safetensors(tmp_path):
    model = zoo.create_model("crnn_vgg", hidden_size=16).eval()
    ckpt = save_checkpoint(tmp_path / "best.pt", model)
    assert main(["export", str(ckpt), "--format", "safetensors"]) == 0
    weights = tmp_path / "best.safetensors"
    tensors = sum(v.numel() for v in model.state_dict().values() if v.is_floating_point())
    assert 2 * tensors < weights.stat().st_size < 2 * tensors + 100_000  # 2 bytes a value: fp16, + header
    torch.testing.assert_close(load_model(weights)(torch.ones(1, 1, 32, 100)), model(torch.ones(1, 1, 32, 100)),
                               atol=2e-3, rtol=0)


def test_export_never_writes_over_its_input_or_a_users_file(tmp_path, capsys):
    # before: --out naming the checkpoint replaced its training state; any file at --out was replaced
    from zoo.checkpoint import save_checkpoint
    ckpt = save_checkpoint(tmp_path / "best.pt", zoo.create_model("crnn_vgg", hidden_size=16).eval())
    state = ckpt.read_bytes()
    assert main(["export", str(ckpt), "--format", "safetensors", "--out", str(ckpt)]) == 1
    assert "is the input" in capsys.readouterr().err and ckpt.read_bytes() == state
    mine = tmp_path / "notes.safetensors"
    mine.write_text("my notes")
    assert main(["export", str(ckpt), "--format", "safetensors", "--out", str(mine)]) == 1
    assert "exists and was not written by the zoo" in " ".join(capsys.readouterr().err.split())
    assert mine.read_text() == "my notes"
    assert main(["export", str(ckpt), "--format", "safetensors"]) == 0  # beside it: best.safetensors
    assert main(["export", str(ckpt), "--format", "safetensors"]) == 0  # its own earlier export is replaced


def test_exporting_weights_to_their_own_format_without_out_says_to_give_out(tmp_path, capsys):
    # before: "--out .../w.safetensors is the input w.safetensors", though no --out was given
    from zoo.checkpoint import save_weights
    weights = save_weights(tmp_path / "w.safetensors", zoo.create_model("crnn_vgg", hidden_size=16).eval())
    before = weights.read_bytes()
    assert main(["export", str(weights), "--format", "safetensors"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"{weights} is a safetensors file already, so the default output" in err
    assert "give --out NEW.safetensors to write a copy" in err and weights.read_bytes() == before
    assert main(["export", str(weights), "--format", "safetensors", "--out", str(tmp_path / "copy.safetensors")]) == 0


def test_is_zoo_export_says_no_to_damaged_files_and_lets_other_errors_through(tmp_path, monkeypatch):
    import zoo.checkpoint
    from zoo.export import is_zoo_export

    for name, data in (("bad.safetensors", b"\x00" * 100), ("bad.onnx", b"not a protobuf"), ("empty.onnx", b"")):
        (tmp_path / name).write_bytes(data)
        assert not is_zoo_export(tmp_path / name)

    def broken(path):
        raise RuntimeError("a bug in the reader")

    monkeypatch.setattr(zoo.checkpoint, "read_safetensors", broken)
    # before: any exception, a bug's too, read as "not the zoo's" and refused the export with a wrong reason
    with pytest.raises(RuntimeError, match="a bug in the reader"):
        is_zoo_export(tmp_path / "bad.safetensors")
