"""Per-image saliency, the CTC alignment it explains, and GRCNN's gate maps."""
import pytest
import torch
import torch.nn.functional as F

from zoo import create_model
from zoo.decode.ctc import greedy_decode
from zoo.viz.alignment import alignment, transcription
from zoo.viz.gates import gate_maps
from zoo.viz.saliency import decoded_score, gradient_saliency, occlusion_saliency, saliency


def test_alignment_spells_the_greedy_transcription_and_tiles_the_frames():
    logits = torch.randn(3, 26, 37)
    logits[:, ::3, 0] += 4  # plenty of blanks, as in a real best path
    charset = create_model("crnn_vgg").config.charset
    for row, expected in zip(logits, greedy_decode(logits, charset)):
        segments = alignment(row, charset)
        assert transcription(segments) == expected
        assert segments[0].first == 0 and segments[-1].last == 25
        assert all(a.last + 1 == b.first for a, b in zip(segments, segments[1:]))


def test_gradient_saliency_is_the_gradient_of_the_emitting_frames_log_probabilities():
    model = create_model("crnn_vgg").eval()
    image = torch.randn(1, 32, 64)
    result = gradient_saliency(model, image)
    x = image.unsqueeze(0).requires_grad_(True)
    logp = F.log_softmax(model(x)[0], -1)
    best = logp.argmax(-1)
    emitting = [t for t in range(len(best)) if best[t] != 0]
    assert result.target_frames == emitting and result.target == "emitting frames"
    logp[emitting, best[emitting]].sum().backward()
    torch.testing.assert_close(result.map, x.grad[0, 0].abs())


def test_all_blank_best_path_explains_every_frame_and_says_so():
    model = create_model("crnn_vgg").eval()
    with torch.no_grad():
        model.head[-1].proj.bias[0] = 1e3   # the blank wins every frame
    result = saliency(model, torch.randn(1, 32, 64), "gradient")
    assert result.target == "all frames (best path is all blank)"
    assert result.target_frames == list(range(model.num_frames(64)))


def test_occlusion_map_is_the_score_drop_of_the_covering_patches():
    model = create_model("crnn_vgg").eval()
    image = torch.randn(1, 32, 40)
    result = occlusion_saliency(model, image, patch=8, stride=4)
    with torch.no_grad():
        logits = model(image.unsqueeze(0))
        best = logits[0].argmax(-1)
        frames = result.target_frames
        occluded = image.clone()
        occluded[:, :8, :8] = image.mean()
        drop = decoded_score(logits, best, frames) - decoded_score(model(occluded.unsqueeze(0)), best, frames)
    # pixel (0, 0) is covered by the top-left patch only
    torch.testing.assert_close(result.map[0, 0], drop[0])
    assert result.map.shape == (32, 40)


def test_unknown_saliency_method_is_named():
    with pytest.raises(ValueError, match="occlusion"):
        saliency(create_model("crnn_vgg").eval(), torch.randn(1, 32, 32), "smoothgrad")


def test_gate_maps_are_grcl_gates_per_iteration_and_recording_is_switched_off():
    model = create_model("grcnn", recurrent_steps=2).eval()
    layer = model.backbone.features[3]
    captured = {}
    layer.register_forward_hook(lambda m, args, out: captured.setdefault("u", args[0]))
    maps = gate_maps(model, torch.randn(1, 32, 100))
    assert list(maps) == ["backbone.features.3", "backbone.features.5", "backbone.features.7"]
    assert [m.shape for m in maps.values()] == [(2, 16, 50), (2, 8, 25), (2, 4, 26)]
    with torch.no_grad():  # G(1) = sigmoid(BN(w_gf * u) + BN(w_gr * x(0))), x(0) = ReLU(BN(w_f * u))
        u = captured["u"]
        x0 = torch.relu(layer.ff_bn(layer.ff_conv(u)))
        gate = torch.sigmoid(layer.gate_ff_bn(layer.gate_ff_conv(u)) + layer.gate_rec_bn[0](layer.gate_rec_conv[0](x0)))
    torch.testing.assert_close(maps["backbone.features.3"][0], gate[0].mean(0))
    assert all(m.recorded is None for m in model.modules() if hasattr(m, "recorded"))
    assert gate_maps(create_model("rcnn", recurrent_steps=1).eval(), torch.randn(1, 32, 100)) == {}


def test_the_saliency_grid_column_titles_never_overlap():
    """Checkpoint labels carry run paths wider than a column: they wrap (also after a '/') and the
    layout makes room, so no title runs into its neighbour, an image or the figure's title."""
    import numpy as np

    from zoo.viz import figures

    columns = ["grcnn (runs/cpu/grcnn_long/best.pt)", "crnn_vgg (runs/ablations/cpu_backbones/runs/crnn_vgg-s0/best.pt)",
               "densenet\n(untrained)", "rcnn"]
    rows = [{"label": f"img_{i}.jpg", "picture": np.random.rand(32, 100),
             "cells": [(np.random.rand(32, 100), "word") for _ in columns]} for i in range(2)]
    fig = figures.grid_figure(rows, columns, "gradient")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    top = fig.axes[:len(columns) + 1]
    titles = [ax.title.get_window_extent(renderer) for ax in top]
    assert all(left.x1 < right.x0 for left, right in zip(titles, titles[1:]))
    assert all(t.y0 >= ax.get_window_extent(renderer).y1 - 1 for t, ax in zip(titles, top))  # above its image
    assert max(t.y1 for t in titles) <= fig._suptitle.get_window_extent(renderer).y0 + 1
    assert "\n" in top[2].get_title() and all(len(line) <= 24 for line in top[2].get_title().split("\n"))
    figures.plt.close(fig)
