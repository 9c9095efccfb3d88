import hashlib

import pytest
import torch
import yaml
from safetensors.torch import load_file

import zoo
from zoo.alphabets import ALPHANUMERIC_36
from zoo.checkpoint import REGISTRY_DIR
from zoo.data.benchmarks import SUITE, Resolved
from zoo.evaluate import evaluate_model
from zoo.factory import load_model, shipped_models
from zoo.models.recognizer import Backbone, Recognizer


def test_list_models_with_pattern():
    assert zoo.list_models("*rcnn*") == ["grcnn", "grcnn_small", "rcnn"]
    assert zoo.list_models("crnn*") == ["crnn_vgg"]
    assert zoo.list_models("nothing*") == []


def test_list_models_in_a_fresh_interpreter_sees_every_built_in_model():
    """The registry only holds what was registered; zoo.factory (behind zoo.list_models) imports every
    family file first, so nothing else needs importing for the listing to be complete."""
    import subprocess
    import sys

    probe = "import zoo, sys; print(' '.join(zoo.list_models()), 'zoo.models.grcnn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["crnn_vgg", "densenet", "grcnn", "grcnn_small", "rcnn", "True"]


def test_pretrained_is_the_shipped_model_with_its_trained_options():
    assert {"grcnn", "crnn_vgg"} <= set(zoo.list_models(pretrained=True)) <= set(zoo.list_models())
    assert zoo.list_models("crnn*", pretrained=True) == ["crnn_vgg"]
    model = zoo.create_model("grcnn", pretrained=True)
    assert not model.training and model.config.hidden_size == 256  # as trained, not the release's 512
    shipped = load_model("grcnn").state_dict()
    assert all(torch.equal(v, shipped[k]) for k, v in model.state_dict().items())
    with pytest.raises(TypeError, match="options are fixed.*--init-from grcnn"):
        zoo.create_model("grcnn", pretrained=True, recurrent_steps=3)
    with pytest.raises(FileNotFoundError, match="no shipped weights for 'grcnn_small'; shipped: "):
        zoo.create_model("grcnn_small", pretrained=True)


def test_unknown_model_names_close_matches():
    with pytest.raises(KeyError) as err:
        zoo.create_model("grcn")
    message = err.value.args[0]
    assert "Did you mean 'grcnn'" in message and "rcnn" in message and "crnn_vgg" in message


def test_unknown_option_names_close_matches():
    with pytest.raises(TypeError, match=r"no option 'recurrent_step'\. Did you mean 'recurrent_steps'\?"):
        zoo.create_model("grcnn", recurrent_step=3)


def test_an_option_under_its_old_name_is_told_the_new_one():
    with pytest.raises(TypeError, match=r"no option 'iterations'\. It is called 'recurrent_steps' now\."):
        zoo.create_model("grcnn", iterations=3)
    with pytest.raises(TypeError, match=r"crnn_vgg' has no option 'iterations'\. Its options: in_chans, head"):
        zoo.create_model("crnn_vgg", iterations=3)  # no recurrent steps there: no pointer to a new name


@pytest.mark.parametrize("name, options, message", [
    ("grcnn", {"hidden_size": 0}, r"model 'grcnn': hidden_size=0 is not allowed; hidden_size is a size or count, "
                                  r"a whole number of at least 1\."),
    ("rcnn", {"hidden_size": 2.5}, r"model 'rcnn': hidden_size=2\.5 is not allowed"),
    ("crnn_vgg", {"in_chans": 0}, r"model 'crnn_vgg': in_chans=0 is not allowed; .* at least 1\."),
    ("grcnn", {"recurrent_steps": -1}, r"model 'grcnn': recurrent_steps=-1 is not allowed; .* at least 0\."),
    ("densenet", {"growth_rate": 0}, r"model 'densenet': growth_rate=0 is not allowed"),
    ("densenet", {"block_layers": (6, 0, 22)}, r"model 'densenet': block_layers=\(6, 0, 22\) is not allowed; "
                                                r"block_layers is a list of counts, whole numbers of at least 1"),
    ("grcnn", {"head": "lstm"}, r"model 'grcnn': head='lstm' is not a head\. Did you mean 'bilstm'\? Heads: bilstm, linear\."),
])
def test_option_values_are_checked_with_an_error_naming_option_model_and_what_is_allowed(name, options, message):
    with pytest.raises(ValueError, match=message):
        zoo.create_model(name, **options)


def test_zero_recurrent_steps_is_a_model_and_a_list_is_counts():
    assert zoo.create_model("rcnn", recurrent_steps=0, hidden_size=8).backbone.receptive_field == 38  # x(0) only
    assert zoo.create_model("densenet", block_layers=[2, 2, 2], hidden_size=8).config.options["block_layers"] == [2, 2, 2]


def test_a_bad_option_from_the_command_line_is_one_clear_line(tiny_recipe, capsys):
    from zoo.cli import main

    assert main(["train", str(tiny_recipe), "--set", "model.options={hidden_size: 0}"]) == 1
    err = capsys.readouterr().err
    assert "model 'grcnn': hidden_size=0 is not allowed" in err and "Traceback" not in err


def test_config_carries_the_input_contract():
    cfg = zoo.get_config("grcnn")
    assert (cfg.height, cfg.width, cfg.width_policy, cfg.in_chans) == (32, 100, "fixed", 1)
    assert (cfg.mean, cfg.std) == ((0.5,), (0.5,))  # CRNN's (x - 128) / 128 on [0, 1] pixels
    assert (cfg.horizontal_stride, cfg.blank_index, cfg.charset, cfg.case) == (4, 0, ALPHANUMERIC_36, "fold-lower")
    assert cfg.num_classes == 37 and "Wang" in cfg.citation
    assert cfg.options == {"in_chans": 1, "recurrent_steps": 5, "share_weights": False, "head": "bilstm",
                           "hidden_size": 512}
    assert cfg.reported["IC03-860"] == {"None": 91.2, "50": 98.8, "Full": 97.8}
    assert zoo.get_config("crnn_vgg").width_policy == "keep_ratio"


def test_overrides_are_recorded_in_the_model_config():
    model = zoo.create_model("grcnn", num_classes=63, recurrent_steps=2, hidden_size=64)
    assert model.config.options["recurrent_steps"] == 2 and model.config.hidden_size == 64
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


def test_create_model_takes_pretrained_second_as_timm_does():
    import inspect

    assert list(inspect.signature(zoo.create_model).parameters)[:2] == ["name", "pretrained"]
    assert not zoo.create_model("crnn_vgg", True).training  # positional pretrained: the shipped model
    with pytest.raises(TypeError, match="pass the class count as num_classes=37"):
        zoo.create_model("crnn_vgg", 37)  # the old order would silently have meant pretrained


def test_pretrained_with_another_class_count_keeps_the_trained_weights_and_gives_a_new_classifier():
    shipped = load_model("grcnn").state_dict()
    model = zoo.create_model("grcnn", pretrained=True, num_classes=63)
    own = model.state_dict()
    assert model.num_classes == 63 and model(torch.zeros(1, 1, 32, 100)).shape == (1, 26, 63)
    classifier = model.config.classifier + "."
    assert own[classifier + "weight"].shape == (63, 512)  # fresh (both directions of BiLSTM-256 in); shipped: 37
    kept = [k for k in shipped if not k.startswith(classifier)]
    assert len(kept) == len(shipped) - 2 and all(torch.equal(own[k], shipped[k]) for k in kept)


def test_num_classes_0_is_the_model_without_its_classifier():
    model = zoo.create_model("grcnn", num_classes=0, hidden_size=32).eval()
    assert isinstance(model.get_classifier(), torch.nn.Identity) and model.num_classes == 0
    assert model(torch.zeros(2, 1, 32, 100)).shape == (2, 26, model.num_features) == (2, 26, 64)
    assert not any(k.startswith(model.config.classifier) for k in model.state_dict())
    linear = zoo.create_model("crnn_vgg", num_classes=0, head="linear")
    assert linear(torch.zeros(1, 1, 32, 100)).shape == (1, 26, 512)  # the CNN's features per frame
    model.reset_classifier(37)
    assert model(torch.zeros(1, 1, 32, 100)).shape == (1, 26, 37)
    with pytest.raises(ValueError, match="num_classes must be >= 0"):
        zoo.create_model("grcnn", num_classes=-1)


def test_checkpoint_path_loads_checkpoints_state_dicts_and_weights(tmp_path):
    from zoo.checkpoint import save_checkpoint, save_weights

    trained = zoo.create_model("crnn_vgg", hidden_size=16).eval()
    x = torch.randn(1, 1, 32, 100)
    ckpt = save_checkpoint(tmp_path / "best.pt", trained)
    model = zoo.create_model("crnn_vgg", checkpoint_path=str(ckpt))  # its options come with the file
    assert model.config.hidden_size == 16 and torch.equal(model(x), trained(x))
    torch.save(trained.state_dict(), tmp_path / "state.pt")  # a bare state dict: the options are the caller's
    assert torch.equal(zoo.create_model("crnn_vgg", hidden_size=16, checkpoint_path=tmp_path / "state.pt")(x),
                       trained(x))
    weights = save_weights(tmp_path / "w.safetensors", trained)
    torch.testing.assert_close(zoo.create_model("crnn_vgg", checkpoint_path=weights)(x), trained(x), atol=5e-3, rtol=0)
    other = zoo.create_model("crnn_vgg", checkpoint_path=ckpt, num_classes=11)
    assert other.num_classes == 11 and torch.equal(other.backbone(x), trained.backbone(x))
    with pytest.raises(ValueError, match="holds a 'crnn_vgg' model, not 'rcnn'"):
        zoo.create_model("rcnn", checkpoint_path=ckpt)
    with pytest.raises(ValueError, match="state.pt: its weights do not fit crnn_vgg"):
        zoo.create_model("crnn_vgg", checkpoint_path=tmp_path / "state.pt")  # hidden 256 by default


@pytest.mark.parametrize("name", zoo.list_models())
def test_the_config_names_the_classifier_and_first_conv_as_timm_does(name):
    model = zoo.create_model(name, hidden_size=16)
    classifier = model.get_submodule(model.config.classifier)
    first = model.get_submodule(model.config.first_conv)
    assert isinstance(classifier, torch.nn.Linear) and classifier.out_features == model.num_classes
    assert isinstance(first, torch.nn.Conv2d) and first.in_channels == model.config.in_chans
    assert zoo.get_config(name).classifier == model.config.classifier == "head.1.proj"
    cfg = model.pretrained_cfg
    assert (cfg["classifier"], cfg["first_conv"], cfg["num_classes"], cfg["input_size"]) == (
        "head.1.proj", "backbone.features.0", 37, (1, 32, 100))


def test_shipped_path_is_the_one_reading_of_a_name_for_load_model_lineage_and_studies(tmp_path, monkeypatch):
    from zoo.factory import shipped_path

    assert shipped_path("grcnn") == REGISTRY_DIR / "grcnn.safetensors"
    assert shipped_path("grcnn", ".yaml") == REGISTRY_DIR / "grcnn.yaml"
    assert shipped_path("no_such_model") is None and shipped_path("no_such_model@9d30029") is None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grcnn").write_bytes(b"")  # a file of that name is the file, not the registry's
    assert shipped_path("grcnn") is None
