"""Every registered model round-trips through ONNX (onnxruntime) and TorchScript to 1e-4."""
import json

import numpy as np
import onnxruntime
import pytest
import torch

import zoo
from zoo.checkpoint import load_model
from zoo.cli import main
from zoo.export import export


@pytest.mark.parametrize("name", zoo.list_models())
def test_onnx_and_torchscript_match_pytorch(name, tmp_path):
    model = zoo.create_model(name, hidden_size=16).eval()
    images = torch.randn(3, 1, 32, 157)  # another batch and width than the export's example
    with torch.no_grad():
        expected = model(images).numpy()
    session = onnxruntime.InferenceSession(str(export(model, "onnx", tmp_path / "m.onnx")),
                                           providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"images": images.numpy()})[0], expected, atol=1e-4, rtol=0)
    scripted = torch.jit.load(str(export(model, "torchscript", tmp_path / "m.torchscript.pt")))
    np.testing.assert_allclose(scripted(images).detach().numpy(), expected, atol=1e-4, rtol=0)
    assert json.loads((tmp_path / "m.onnx.json").read_text())["name"] == name


def test_cli_exports_a_checkpoint_to_fp16_safetensors(tmp_path):
    from zoo.checkpoint import save_checkpoint
    model = zoo.create_model("crnn_vgg", hidden_size=16).eval()
    ckpt = save_checkpoint(tmp_path / "best.pt", model)
    assert main(["export", str(ckpt), "--format", "safetensors"]) == 0
    weights = tmp_path / "best.safetensors"
    tensors = sum(v.numel() for v in model.state_dict().values() if v.is_floating_point())
    assert 2 * tensors < weights.stat().st_size < 2 * tensors + 100_000  # 2 bytes a value: fp16, + header
    torch.testing.assert_close(load_model(weights)(torch.ones(1, 1, 32, 100)), model(torch.ones(1, 1, 32, 100)),
                               atol=2e-3, rtol=0)
