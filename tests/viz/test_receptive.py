"""Theoretical and effective receptive fields of output frames."""
import numpy as np
import pytest
import torch

from zoo import create_model
from zoo.viz.receptive import frame_fields, frame_gradient_maps, mass_extent, nominal_centres, theoretical_span


def field_by_hand(layers):
    """r += (k - 1) * jump; jump *= s, written out for a list of (kernel, stride)."""
    rf, jump = 1, 1
    for kernel, stride in layers:
        rf += (kernel - 1) * jump
        jump *= stride
    return rf


def test_theoretical_field_matches_a_hand_computation():
    conv, halve, keep, collapse = (3, 1), (2, 2), (2, 1), (2, 1)
    crnn = [conv, halve, conv, halve, conv, conv, keep, conv, conv, keep, collapse]
    grcl = (3 + 5 * 2, 1)  # feed-forward 3x3, then T=5 recurrent 3x3 convolutions
    grcnn = [conv, halve, grcl, halve, grcl, keep, grcl, keep, collapse]
    assert field_by_hand(crnn) == 54 == create_model("crnn_vgg").backbone.receptive_field
    assert field_by_hand(grcnn) == 138 == create_model("grcnn", recurrent_steps=5).backbone.receptive_field


def test_nominal_centres_are_one_stride_apart_and_symmetric():
    backbone = create_model("crnn_vgg").backbone
    centres = nominal_centres(backbone, 100)
    assert len(centres) == 26
    np.testing.assert_allclose(np.diff(centres), 4)
    assert centres[0] == -0.5 and centres[0] + centres[-1] == 99  # mirror images about the middle column
    assert theoretical_span(backbone, 13) == (25.0, 78.0)


@pytest.mark.parametrize("name, width", [("crnn_vgg", 100), ("grcnn", 200)])
def test_single_frame_gradient_is_zero_outside_the_theoretical_field_and_reaches_its_edges(name, width):
    model = create_model(name).eval()
    frame = model.num_frames(width) // 2
    start, end = theoretical_span(model.backbone, frame)
    assert 0 <= start and end < width  # the whole field lies inside the image
    (frame_map,) = frame_gradient_maps(model.backbone, torch.randn(1, 32, width), [frame])
    seen = (frame_map.sum(0) > 0).nonzero().flatten()
    assert seen.min().item() == start and seen.max().item() == end


@pytest.mark.parametrize("name", ["crnn_vgg", "grcnn"])
def test_effective_field_of_an_untrained_model_is_centred_on_the_nominal_position(name):
    model = create_model(name).eval()
    fields, maps = frame_fields(model.backbone, torch.randn(1, 32, 100), [8, 13, 18])
    assert maps.shape == (3, 32, 100)
    for field in fields:
        assert abs(field.offset) <= model.backbone.horizontal_stride / 2
        assert 0 < field.extents["extent50"] < field.extents["extent90"] <= model.backbone.receptive_field


def test_mass_extent_is_the_narrowest_window_holding_the_fraction():
    assert mass_extent(np.array([0, 0, 1, 1, 0, 0.0]), 0.5) == 1
    assert mass_extent(np.array([0, 0, 1, 1, 0, 0.0]), 0.9) == 2
    assert mass_extent(np.array([1, 0, 0, 0, 1.0]), 0.9) == 5
    assert mass_extent(np.array([1, 2, 4, 2, 1.0]), 0.8) == 3   # 8 of 10 in the middle three
    assert mass_extent(np.zeros(4), 0.5) is None


def test_frame_maps_refuse_a_training_mode_backbone():
    with pytest.raises(ValueError, match="eval mode"):
        frame_gradient_maps(create_model("crnn_vgg").backbone, torch.randn(1, 32, 100), [0])
