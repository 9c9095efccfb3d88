"""Registry-driven: every registered model is tested here by being registered."""
import pytest
import torch

import zoo
from zoo.models.profile import count_parameters

MODELS = zoo.list_models()


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {name: zoo.create_model(name).eval() for name in MODELS}


def test_all_paper_backbones_are_registered():
    assert set(MODELS) >= {"crnn_vgg", "rcnn", "grcnn", "grcnn_small", "densenet"}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("width", [32, 100, 257, 800])
def test_output_shape_and_frame_count(models, name, width):
    model = models[name]
    with torch.no_grad():
        logits = model(torch.randn(2, 1, 32, width))
    # Two 2x2/2 pools, two width-keeping pools (+1 each) and the 2x2 collapse (-1): W // 4 + 1.
    expected_frames = width // 4 + 1
    assert logits.shape == (2, expected_frames, 37)
    assert model.num_frames(width) == expected_frames
    assert model.backbone.horizontal_stride == model.config.horizontal_stride == 4


@pytest.mark.parametrize("name", MODELS)
def test_rgb_input(name):
    model = zoo.create_model(name, in_chans=3).eval()
    assert model.config.in_chans == 3 and model.config.mean == (0.5, 0.5, 0.5)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 100)).shape == (1, 26, 37)


@pytest.mark.parametrize("name", MODELS)
def test_backward_reaches_every_parameter(name):
    model = zoo.create_model(name, hidden_size=32).train()
    logits = model(torch.randn(2, 1, 32, 64))
    log_probs = logits.log_softmax(-1).transpose(0, 1)
    targets = torch.tensor([[1, 2, 3], [4, 5, 5]])
    loss = torch.nn.functional.ctc_loss(log_probs, targets, torch.full((2,), logits.shape[1]),
                                        torch.tensor([3, 3]))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


@pytest.mark.parametrize("name", MODELS)
def test_eval_mode_is_deterministic(models, name):
    x = torch.randn(3, 1, 32, 120)
    with torch.no_grad():
        assert torch.equal(models[name](x), models[name](x))


def test_default_heads_are_the_released_configurations(models):
    assert models["crnn_vgg"].config.hidden_size == 256
    assert models["grcnn"].config.hidden_size == 512
    assert models["grcnn"].head[0].rnn.hidden_size == 512


@pytest.mark.parametrize("name,total,cnn", [
    ("crnn_vgg", 8.33e6, None),        # CRNN paper: 8.3M; official config counted: 8.33M
    ("grcnn", 14.27e6, 5.30e6),        # released GRCNN, T=5 unshared, BiLSTM-512
    ("grcnn_small", None, 1.85e6),     # T=3, shared recurrent weights
])
def test_parameter_counts_match_the_papers(models, name, total, cnn):
    model = models[name]
    if total:
        assert count_parameters(model) == pytest.approx(total, rel=0.02)
    if cnn:
        assert count_parameters(model.backbone) == pytest.approx(cnn, rel=0.02)


def test_densenet_is_sized_like_grcnn(models):
    assert count_parameters(models["densenet"].backbone) == pytest.approx(
        count_parameters(models["grcnn"].backbone), rel=0.03)


def test_weight_sharing_is_an_option_of_one_implementation():
    unshared = zoo.create_model("grcnn", recurrent_steps=3, share_weights=False)
    shared = zoo.create_model("grcnn", recurrent_steps=3, share_weights=True)
    grcl = unshared.backbone.features[7]  # GRCL(128 -> 256)
    per_iteration = 256 * 256 * 9 + 256 * 256  # w_r (3x3) + w_gr (1x1)
    assert count_parameters(unshared.backbone) - count_parameters(shared.backbone) == \
        2 * (per_iteration + 64 * 64 * 10 + 128 * 128 * 10)
    assert len(grcl.rec_conv) == 3 and len(shared.backbone.features[7].rec_conv) == 1
    # small = grcnn with T=3 shared: identical structure and size
    assert count_parameters(zoo.create_model("grcnn_small")) == count_parameters(shared)


def test_linear_head_ablation():
    model = zoo.create_model("grcnn", head="linear")
    assert isinstance(model.head, torch.nn.Linear) and model.head.in_features == 512
    assert count_parameters(model.head) == 512 * 37 + 37
    assert model(torch.randn(1, 1, 32, 100)).shape == (1, 26, 37)
