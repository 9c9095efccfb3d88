import hashlib

import pytest
import torch
import yaml
from safetensors.torch import load_file

import zoo
from zoo.checkpoint import REGISTRY_DIR, load_model, shipped_models
from zoo.data.benchmarks import SUITE, Resolved
from zoo.evaluate import evaluate_model
from zoo.models.recognizer import Backbone, Recognizer
from zoo.registry import ALPHANUMERIC_36


def test_list_models_with_pattern():
    assert zoo.list_models("*rcnn*") == ["grcnn", "grcnn_small", "rcnn"]
    assert zoo.list_models("crnn*") == ["crnn_vgg"]
    assert zoo.list_models("nothing*") == []


def test_pretrained_is_the_shipped_model_with_its_trained_options():
    assert {"grcnn", "crnn_vgg"} <= set(zoo.list_models(pretrained=True)) <= set(zoo.list_models())
    assert zoo.list_models("crnn*", pretrained=True) == ["crnn_vgg"]
    model = zoo.create_model("grcnn", pretrained=True)
    assert not model.training and model.config.hidden_size == 256  # as trained, not the release's 512
    shipped = load_model("grcnn").state_dict()
    assert all(torch.equal(v, shipped[k]) for k, v in model.state_dict().items())
    with pytest.raises(TypeError, match="options are fixed.*--init-from grcnn"):
        zoo.create_model("grcnn", pretrained=True, iterations=3)
    with pytest.raises(FileNotFoundError, match="no shipped weights for 'grcnn_small'; shipped: "):
        zoo.create_model("grcnn_small", pretrained=True)


def test_unknown_model_names_close_matches():
    with pytest.raises(KeyError) as err:
        zoo.create_model("grcn")
    message = err.value.args[0]
    assert "Did you mean: grcnn" in message and "rcnn" in message and "crnn_vgg" in message


def test_unknown_option_names_close_matches():
    with pytest.raises(TypeError, match=r"no option 'iteration'\. Did you mean iterations\?"):
        zoo.create_model("grcnn", iteration=3)


def test_config_carries_the_input_contract():
    cfg = zoo.get_config("grcnn")
    assert (cfg.height, cfg.width, cfg.width_policy, cfg.in_chans) == (32, 100, "fixed", 1)
    assert (cfg.mean, cfg.std) == ((0.5,), (0.5,))  # CRNN's (x - 128) / 128 on [0, 1] pixels
    assert (cfg.horizontal_stride, cfg.blank_index, cfg.charset, cfg.case) == (4, 0, ALPHANUMERIC_36, "fold-lower")
    assert cfg.num_classes == 37 and "Wang" in cfg.citation
    assert cfg.options == {"in_chans": 1, "iterations": 5, "share_weights": False, "head": "bilstm",
                           "hidden_size": 512}
    assert cfg.reported["IC03-860"] == {"None": 91.2, "50": 98.8, "Full": 97.8}
    assert zoo.get_config("crnn_vgg").width_policy == "keep_ratio"


def test_overrides_are_recorded_in_the_model_config():
    model = zoo.create_model("grcnn", num_classes=63, iterations=2, hidden_size=64)
    assert model.config.options["iterations"] == 2 and model.config.hidden_size == 64
    assert model.num_classes == 63 and model.head[1].proj.out_features == 63


class _TallBackbone(Backbone):
    """Forgets to collapse the height: the head must refuse it."""

    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.MaxPool2d(4, 4))


def test_recognizer_checks_the_backbone_geometry():
    with pytest.raises(ValueError, match=r"needs height 1 and 25 frames"):
        Recognizer(_TallBackbone(), 37, zoo.get_config("crnn_vgg"))


def test_wrong_input_height_is_a_clear_error():
    model = zoo.create_model("crnn_vgg").eval()
    with pytest.raises(ValueError, match="expects images 32 px high"):
        model(torch.zeros(1, 1, 64, 100))


@pytest.mark.parametrize("name", shipped_models())
def test_every_shipped_model_is_its_card_and_reads_ic03(name, ic03_dir):
    """The file is the one its card measured (sha256), fp16 under 20 MB, and reads real words by name:
    the first 100 IC03 images (a preprocessing or loading regression shows here first)."""
    card = yaml.safe_load((REGISTRY_DIR / f"{name}.yaml").read_text())
    weights = REGISTRY_DIR / card["file"]
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == card["sha256"]
    assert weights.stat().st_size < 20e6
    assert {v.dtype for v in load_file(str(weights)).values() if v.is_floating_point()} == {torch.float16}
    _, evaluation = evaluate_model(load_model(name), Resolved(ic03_dir, "ic03-860", SUITE["ic03"]),
                                   ["none", "50"], limit=100)
    accuracy = {row["lexicon"]: row["accuracy (%)"] for row in evaluation.rows}
    assert accuracy["None"] >= 55 and accuracy["50"] >= 90, accuracy  # shipped: 66-70 and 96-97 here
