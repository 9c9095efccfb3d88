"""Theoretical receptive fields (from layer geometry) against hand computation and measurement."""
import pytest
import torch

import zoo
from zoo.models.geometry import POINTWISE, Geometry, layer_geometry, receptive_field_table
from zoo.models.recognizer import Backbone, Recognizer


def measured_receptive_field(backbone, width: int) -> tuple[int, int]:
    """Columns of a line ``width`` px wide whose gradient is non-zero for the middle output frame.

    Float64: in float32 the gradient at the far edge of a deep field (DenseNet: ~1e-66) underflows
    to zero, which would measure arithmetic, not connectivity."""
    backbone = backbone.double().eval()
    x = torch.randn(1, 1, 32, width, dtype=torch.float64, requires_grad=True)
    feats = backbone(x)
    frame = feats.shape[-1] // 2
    feats[:, :, 0, frame].abs().sum().backward()
    columns = (x.grad.abs().sum((0, 1, 2)) > 0).nonzero().flatten()
    assert columns.numel() == columns.max() - columns.min() + 1, "the field has holes"
    return columns.numel(), frame


def width_for(rf: int) -> int:
    return (rf // 4 + 8) * 4  # room for the whole field of the middle frame


@pytest.mark.parametrize("name", zoo.list_models())
def test_measured_field_equals_theoretical(name):
    backbone = zoo.create_model(name, hidden_size=8).backbone
    rf = backbone.receptive_field
    measured, frame = measured_receptive_field(backbone, width_for(rf))
    assert measured == rf


def test_hand_computed_fields():
    # CRNN: conv 3 | pool -> 4 (jump 2) | conv 8 | pool 10 (jump 4) | 4 convs and 2 pools: 54
    assert zoo.create_model("crnn_vgg").backbone.receptive_field == 54
    # GRCNN T=5: each GRCL sees 3 + 5 * 2 = 13 px of its input: 3, 4, 28, 30, 78, 82, 130, 134, 138
    rows = zoo.create_model("grcnn").backbone.receptive_field_table()
    assert [r["receptive_field"] for r in rows] == [3, 4, 28, 30, 78, 82, 130, 134, 138]
    assert [r["out_width"] for r in rows] == [100, 50, 50, 25, 25, 26, 26, 27, 26]


@pytest.mark.parametrize("name", ["rcnn", "grcnn"])
def test_field_grows_with_recurrent_steps(name):
    fields = []
    for steps in (1, 2, 3):
        backbone = zoo.create_model(name, recurrent_steps=steps, hidden_size=8).backbone
        fields.append(measured_receptive_field(backbone, width_for(backbone.receptive_field))[0])
        assert fields[-1] == backbone.receptive_field
    assert fields == [58, 78, 98]  # each step adds a 3x3 conv at 3 scales: 2 * (2 + 4 + 4)


def test_geometry_output_size_formula():
    pool = Geometry(kernel=2, stride=1, padding=1)
    assert [pool.out_size(w) for w in (25, 26)] == [26, 27]
    assert Geometry(2, 2).out_size(101) == 50
    table = receptive_field_table(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding=1), torch.nn.ReLU(),
                                                      torch.nn.MaxPool2d(2, 2)), width=10)
    assert [(r["layer"], r["receptive_field"], r["jump"], r["out_width"]) for r in table] == \
        [("0", 3, 1, 10), ("2", 4, 2, 5)]


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_layer_of_every_model_is_one_the_geometry_knows(name):
    """A layer of a type the geometry does not know raises (below), so building each model and
    walking its layers is the check; the field of each layer is its own, nothing skipped by default."""
    features = zoo.create_model(name, hidden_size=8).backbone.features
    for layer in features:
        if layer_geometry(layer) is None:
            assert isinstance(layer, POINTWISE) or hasattr(layer, "geometry"), type(layer).__name__


class _PaddedBackbone(Backbone):
    """A layer that widens the line, of a type the geometry cannot read (ZeroPad2d)."""

    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ZeroPad2d((4, 4, 0, 0)),
                                            torch.nn.MaxPool2d((32, 4), (32, 4)))


def test_a_layer_the_geometry_does_not_know_is_an_error_naming_its_type():
    with pytest.raises(TypeError, match=r"does not know the layer type ZeroPad2d: give it a geometry\(\) method.*"
                                        r"known pointwise types: BatchNorm2d, "):
        Recognizer(_PaddedBackbone(), 37, zoo.get_config("crnn_vgg"))
    with pytest.raises(TypeError, match="ZeroPad2d"):
        _PaddedBackbone().receptive_field
