import pytest
import torch

from zoo.bench import images
from zoo.models.quantize import quantize_int8
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
