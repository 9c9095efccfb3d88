import copy
import warnings

import onnx
import pytest
import torch

from zoo.bench import images
from zoo.factory import create_model
from zoo.models.layers import ChannelLRN
from zoo.quantize import quantize_int8
from zoo.models.recurrent import RecurrentConvLayer


def int8_graph(module) -> onnx.GraphProto:
    return onnx.load_from_string(module.onnx_model).graph


@pytest.mark.parametrize("name", ["grcnn_small", "rcnn", "crnn_vgg"])
def test_int8_model_computes_the_fp32_function_to_int8_precision(name, randomised):
    model = randomised(create_model(name, hidden_size=32, **({"recurrent_steps": 2} if name == "rcnn" else {})))
    calibration, batch = images(16, seed=1), images(4, seed=2)
    with warnings.catch_warnings():
        # torch.ao's FX quantization warned that it is deprecated (with all of torch.ao.quantization)
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        quantized = quantize_int8(model, calibration)
    with torch.no_grad():
        exact, approx = model(batch), quantized(batch)
        wide = images(3, width=157, seed=3)  # batch and width stay dynamic in the int8 graphs
        assert quantized(wide).shape == model(wide).shape == (3, 40, 37)
    assert approx.shape == exact.shape and approx.dtype == torch.float32
    # int8 keeps ~2 significant digits: the logits move by a fraction of a percent of their spread
    # (measured 0.35-0.5%), not more; more than 5% is a broken graph
    error = (approx - exact).abs().max() / (exact.max() - exact.min())
    assert 0 < error < 0.05
    head = int8_graph(quantized.head)
    assert sum(n.op_type == "DynamicQuantizeLSTM" for n in head.node) == 2  # int8 LSTM weights, both layers
    backbone = int8_graph(quantized.backbone)
    dequantized = {n.output[0] for n in backbone.node if n.op_type == "DequantizeLinear"}
    convs = [n for n in backbone.node if n.op_type == "Conv"]
    in_lrn = [any(ChannelLRN.__qualname__ in p.value for p in n.metadata_props) for n in convs]
    int8 = [n.input[0] in dequantized and n.input[1] in dequantized for n in convs]  # int8 activations, weights
    assert int8 == [not lrn for lrn in in_lrn]  # every convolution in int8 except the LRN's sums of squares
    assert any(in_lrn) == (name == "rcnn")
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the original is untouched


def test_shared_recurrent_weights_get_one_activation_scale_per_step(randomised):
    # quantizing a shared-weight RCNN must equal quantizing the same weights copied per step: each
    # step observed separately (one scale for all steps cost the shipped RCNN 2 IC03 points)
    shared = randomised(create_model("rcnn", hidden_size=32, recurrent_steps=3))
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
