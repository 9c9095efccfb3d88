import pytest
import torch

import zoo
from zoo.checkpoint import load_model, save_checkpoint, save_weights
from zoo.cli import main


@pytest.fixture
def model():
    return zoo.create_model("grcnn_small", num_classes=11, hidden_size=16, in_chans=3).eval()


def test_checkpoint_rebuilds_the_same_model(tmp_path, model):
    x = torch.randn(2, 3, 32, 100)
    path = save_checkpoint(tmp_path / "run" / "last.pt", model, step=7)
    loaded = load_model(path)
    assert loaded.config == model.config and loaded.num_classes == 11
    assert torch.equal(loaded(x), model(x))
    assert torch.load(path, weights_only=True)["step"] == 7  # tensors and plain data only
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left behind


def test_fp16_weights_rebuild_the_model(tmp_path, model):
    x = torch.randn(2, 3, 32, 100)
    loaded = load_model(save_weights(tmp_path / "w.safetensors", model))
    assert loaded.config.in_chans == 3 and loaded.config.options == model.config.options
    torch.testing.assert_close(loaded(x), model(x), atol=5e-3, rtol=0)


def test_registry_name_without_shipped_weights_says_so():
    with pytest.raises(FileNotFoundError, match="no shipped weights for 'grcnn_small'"):
        load_model("grcnn_small")  # a registered variant the zoo does not ship
    with pytest.raises(FileNotFoundError, match="neither a file nor a registered model"):
        load_model("no/such/file.pt")


def test_shipped_models_lists_registry_files_grcnn_first(tmp_path, monkeypatch):
    from zoo import checkpoint

    monkeypatch.setattr(checkpoint, "REGISTRY_DIR", tmp_path)
    assert checkpoint.shipped_models() == []
    for name in ["crnn_vgg", "grcnn", "not_a_model"]:
        (tmp_path / f"{name}.safetensors").write_bytes(b"")
    assert checkpoint.shipped_models() == ["grcnn", "crnn_vgg"]


def test_a_checkpoint_whose_pickle_runs_code_is_refused_not_executed(tmp_path, model, code_payload):
    payload, marker = code_payload
    path = save_checkpoint(tmp_path / "evil.pt", model, extra=payload)  # otherwise a valid checkpoint
    with pytest.raises(ValueError, match=r"evil.pt: refused: its pickle asks for .*open.* never runs code from a file"):
        load_model(path)
    assert not marker.exists()


def _damaged(tmp_path, model, kind: str):
    weights = save_weights(tmp_path / "good.safetensors", model).read_bytes()
    checkpoint = save_checkpoint(tmp_path / "good.pt", model).read_bytes()
    name, data = {"truncated safetensors": ("w.safetensors", weights[: len(weights) // 2]),
                  "100-byte safetensors": ("w.safetensors", weights[:100]),
                  "empty safetensors": ("w.safetensors", b""),
                  "text named .pt": ("w.pt", b"epoch 3: loss 0.71\n"),
                  "empty .pt": ("w.pt", b""),
                  "truncated .pt": ("w.pt", checkpoint[: len(checkpoint) // 2])}[kind]
    (tmp_path / name).write_bytes(data)
    return tmp_path / name


@pytest.mark.parametrize("kind,problem", [
    ("truncated safetensors", "is not a readable safetensors file"), ("100-byte safetensors", "100 bytes"),
    ("empty safetensors", "is empty"), ("text named .pt", "is not a PyTorch checkpoint"),
    ("empty .pt", "is empty"), ("truncated .pt", "is not a PyTorch checkpoint")])
def test_damaged_weight_files_are_errors_naming_the_file_the_problem_and_the_fix(tmp_path, model, kind, problem):
    path = _damaged(tmp_path, model, kind)
    with pytest.raises(ValueError, match=rf"{path}: .*{problem}.*; copy it again"):
        load_model(path)


@pytest.mark.parametrize("kind", ["100-byte safetensors", "text named .pt"])
def test_the_cli_prints_a_damaged_file_as_one_line_not_a_traceback(tmp_path, model, kind, capsys):
    path = _damaged(tmp_path, model, kind)
    assert main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 1
    printed = capsys.readouterr().err
    assert printed.startswith(f"error: {path}: ") and printed.count("\n") == 1 and "Traceback" not in printed


def test_a_text_file_named_pt_is_called_damaged_not_a_pickle_that_runs_code(tmp_path):
    from zoo.checkpoint import read_checkpoint
    text = tmp_path / "notes.pt"
    text.write_text("hello, not a checkpoint\n")
    with pytest.raises(ValueError, match=r"is not a PyTorch checkpoint \(24 bytes"):
        read_checkpoint(text)
