import copy

import pytest
import torch

from zoo.bench import images
from zoo.models.quantize import quantize_int8
from zoo.models.recurrent import RecurrentConvLayer
from zoo.registry import create_model


@pytest.mark.parametrize("name", ["grcnn_small", "rcnn", "crnn_vgg"])
def test_int8_model_computes_the_fp32_function_to_int8_precision(name, randomised):
    model = randomised(create_model(name, hidden_size=32, **({"iterations": 2} if name == "rcnn" else {})))
    calibration, batch = images(16, seed=1), images(4, seed=2)
    quantized = quantize_int8(model, calibration)
    with torch.no_grad():
        exact, approx = model(batch), quantized(batch)
    assert approx.shape == exact.shape and approx.dtype == torch.float32
    # int8 keeps ~2 significant digits: the logits move by a few percent of their spread, not more
    error = (approx - exact).abs().max() / (exact.max() - exact.min())
    assert 0 < error < 0.05
    assert type(quantized.head[0].rnn).__module__.startswith("torch.ao.nn.quantized")  # int8 LSTM weights
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the original is untouched


def test_shared_recurrent_weights_get_one_activation_scale_per_step(randomised):
    # quantizing a shared-weight RCNN must equal quantizing the same weights copied per step: each
    # step observed separately (one scale for all steps cost the shipped RCNN 2 IC03 points)
    shared = randomised(create_model("rcnn", hidden_size=32, iterations=3))
    unshared = copy.deepcopy(shared)
    for layer in unshared.backbone.features:
        if isinstance(layer, RecurrentConvLayer):
            layer.unshare()
    calibration, batch = images(16, seed=1), images(4, seed=2)
    with torch.no_grad():
        torch.testing.assert_close(unshared(batch), shared(batch), rtol=0, atol=0)
        torch.testing.assert_close(quantize_int8(shared, calibration)(batch),
                                   quantize_int8(unshared, calibration)(batch), rtol=0, atol=0)
    assert shared.backbone.features[3].share_weights  # the original is untouched
