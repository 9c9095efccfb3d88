import hashlib

import pytest
import torch
import yaml

from zoo import ship as ship_module
from zoo.cli import main
from zoo.factory import load_model
from zoo.ship import ship
from zoo.train.recipe import load_recipe
from zoo.train.trainer import train


@pytest.fixture
def trained(tiny_recipe, tmp_path):
    """A tiny GRCNN trained for 4 steps: a real `zoo train` checkpoint (conftest's tiny recipe)."""
    train(load_recipe(tiny_recipe, ["train.iterations=4", "train.val_every=2", "seed=3",
                                    "model.options={recurrent_steps: 1, hidden_size: 16}", f"out={tmp_path / 'run'}"]))
    return tmp_path / "run" / "best.pt"


@pytest.fixture
def bench_folder(tmp_path):
    from PIL import Image
    folder = tmp_path / "bench"
    folder.mkdir()
    words = ["cat", "tree", "house"]
    for i, word in enumerate(words):
        Image.new("RGB", (60, 20), "white").save(folder / f"img_{i}.png")
    (folder / "gt.txt").write_text("".join(f"img_{i}.png\t{w}\n" for i, w in enumerate(words)))
    (folder / "lexicon_50.txt").write_text("".join(",".join(words) + "\n" for _ in words))
    return folder


def test_ship_writes_fp16_weights_and_a_card_measured_on_them(trained, bench_folder, tmp_path):
    card = ship(trained, "grcnn", str(bench_folder), registry=tmp_path / "registry")
    weights = tmp_path / "registry" / "grcnn.safetensors"
    assert card["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    written = yaml.safe_load((tmp_path / "registry" / "grcnn.yaml").read_text())
    assert written == card
    step = torch.load(trained, weights_only=False)["train"]["state"]["step"]  # best.pt: the best validation
    assert card["training"]["iterations"] == 4 and card["training"]["seed"] == 3
    assert card["training"]["checkpoint step"] == step and card["training"]["images seen"] == 8 * step
    [segment] = card["lineage"]  # trained from scratch: one segment, this run's, at the checkpoint's step
    assert segment["steps"] == step and segment["init_from"] is None and segment["images seen"] == 8 * step
    assert card["training"]["schedule"]["optimizer"] == "adadelta"
    assert {"recurrent_steps": 1, "hidden_size": 16}.items() <= card["model"]["options"].items()
    measured = card["evaluation"]["benchmarks"]["bench"]
    assert set(measured["word accuracy (%)"]) == {"None"} and measured["images"] == 3
    shipped = load_model(weights)
    assert all(p.dtype == torch.float32 for p in shipped.parameters())  # fp16 on disk, float in memory
    original = load_model(trained)
    for (name, a), b in zip(original.state_dict().items(), shipped.state_dict().values()):
        if a.is_floating_point():
            torch.testing.assert_close(b, a.half().float(), msg=name)


def test_ship_refuses_files_over_the_limit_and_leaves_nothing(trained, bench_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(ship_module, "MAX_MEGABYTES", 0.01)
    with pytest.raises(ValueError, match="over the registry's 0.01 MB limit"):
        ship(trained, "grcnn", str(bench_folder), registry=tmp_path / "registry")
    assert list((tmp_path / "registry").iterdir()) == []


def test_zoo_ship_names_must_be_registered(trained, bench_folder, tmp_path, capsys):
    assert main(["ship", str(trained), "--name", "gcrnn", "--benchmark", str(bench_folder),
                 "--registry", str(tmp_path)]) == 1
    assert "'gcrnn' is not a registered model" in capsys.readouterr().err


def test_ship_refuses_a_name_that_is_not_the_checkpoints_model(trained, bench_folder, tmp_path, capsys):
    # before: a grcnn checkpoint shipped as rcnn, whose card then said `registered: grcnn`
    assert main(["ship", str(trained), "--name", "rcnn", "--benchmark", str(bench_folder),
                 "--registry", str(tmp_path / "registry")]) == 1
    assert "holds a grcnn model; ship it as --name grcnn" in capsys.readouterr().err
    assert not (tmp_path / "registry").exists() or not list((tmp_path / "registry").iterdir())
