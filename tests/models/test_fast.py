"""The optimised inference path computes the plain model's function from the plain model's weights."""
import pytest
import torch

from zoo.bench import find_reference
from zoo.factory import create_model, list_models
from zoo.models.fast import FastRecognizer


@pytest.fixture(scope="module")
def images():
    return torch.randn(2, 1, 32, 40, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("name", list_models())
def test_fast_fp32_equals_plain_features_and_logits(name, images, randomised):
    model = randomised(create_model(name))
    fast = FastRecognizer(model)
    with torch.no_grad():
        plain_features = model.backbone(images)
        torch.testing.assert_close(fast.net.features(images.contiguous(memory_format=torch.channels_last)),
                                   plain_features, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(fast(images), model(images), atol=1e-4, rtol=1e-4)
    assert plain_features.abs().max() > 0.1  # the comparison is not between two near-zero tensors


def test_fast_path_loads_the_plain_state_dict(randomised):
    torch.manual_seed(0)
    trained = randomised(create_model("grcnn_small"))
    torch.manual_seed(1)
    fast = FastRecognizer(randomised(create_model("grcnn_small")))
    x = torch.randn(2, 1, 32, 100)
    with torch.no_grad():
        before = fast(x)
        fast.load_state_dict(trained.state_dict())  # strict: the same keys and shapes
        torch.testing.assert_close(fast(x), trained(x), atol=1e-4, rtol=1e-4)
        assert (before - trained(x)).abs().max() > 1e-3
    assert fast.state_dict().keys() == trained.state_dict().keys()


def test_fast_path_is_inference_only():
    fast = FastRecognizer(create_model("grcnn_small"))
    with pytest.raises(RuntimeError, match="inference only"):
        fast.train()
    with pytest.raises(ValueError, match="precision"):
        FastRecognizer(create_model("grcnn_small"), precision="fp8")


@pytest.mark.parametrize("name", ["grcnn", "crnn_vgg"])
def test_bf16_path_is_close_to_fp32(name, images, randomised):
    model = randomised(create_model(name))
    fast = FastRecognizer(model, "bf16")
    assert fast.net.features[0].weight.dtype == torch.bfloat16
    with torch.no_grad():
        features = model.backbone(images)
        difference = (fast.net.features(images.bfloat16()).float() - features).abs().max()
    assert 0 < difference < 0.05 * features.abs().max()


@pytest.mark.parametrize("name", ["grcnn", "grcnn_small", "rcnn", "crnn_vgg"])
def test_plain_reference_computes_the_zoo_model(name, images, randomised):
    reference = find_reference()
    assert reference is not None, "benchmarks/reference.py must be found from a checkout"
    model = randomised(create_model(name))
    with torch.no_grad():
        torch.testing.assert_close(reference.from_zoo(model)(images), model(images), atol=1e-6, rtol=1e-6)

