import pytest
import torch

import zoo
from zoo.checkpoint import load_model, save_checkpoint, save_weights


@pytest.fixture
def model():
    return zoo.create_model("grcnn_small", num_classes=11, hidden_size=16, in_chans=3).eval()


def test_checkpoint_rebuilds_the_same_model(tmp_path, model):
    x = torch.randn(2, 3, 32, 100)
    path = save_checkpoint(tmp_path / "run" / "last.pt", model, step=7)
    loaded = load_model(path)
    assert loaded.config == model.config and loaded.num_classes == 11
    assert torch.equal(loaded(x), model(x))
    assert torch.load(path, weights_only=False)["step"] == 7
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
