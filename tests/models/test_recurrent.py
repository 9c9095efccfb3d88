"""GRCL and RCL against a direct, step-by-step computation of their equations."""
import pytest
import torch
import torch.nn.functional as F

from zoo.models.grcnn import GRCL
from zoo.models.rcnn import RCL

T = 3


def bn(x, m):
    shape = (1, -1, 1, 1)
    return ((x - m.running_mean.view(shape)) / torch.sqrt(m.running_var.view(shape) + m.eps)
            * m.weight.view(shape) + m.bias.view(shape))


def conv(x, weight, bias=None):
    return F.conv2d(x, weight, bias, padding=weight.shape[-1] // 2)


@pytest.mark.parametrize("share", [False, True])
def test_grcl_matches_its_equations(share, randomised):
    torch.manual_seed(1)
    layer = randomised(GRCL(2, 3, recurrent_steps=T, share_weights=share))
    u = torch.randn(2, 2, 5, 7)
    w = dict(layer.named_parameters())
    b = dict(layer.named_modules())

    def k(t):  # recurrent weights: one set for all t when shared
        return 0 if share else t

    # x(0) = ReLU(BN(w_f * u))
    ff = bn(conv(u, w["ff_conv.weight"]), b["ff_bn"])
    gate_ff = bn(conv(u, w["gate_ff_conv.weight"]), b["gate_ff_bn"])
    x = torch.relu(ff)
    for t in range(T):
        # G(t) = sigmoid(BN(w_gf * u) + BN(w_gr * x(t-1)))
        g = torch.sigmoid(gate_ff + bn(conv(x, w[f"gate_rec_conv.{k(t)}.weight"]), b[f"gate_rec_bn.{t}"]))
        # x(t) = ReLU(BN(w_f * u) + BN(BN(w_r * x(t-1)) * G(t)))
        x = torch.relu(ff + bn(bn(conv(x, w[f"rec_conv.{k(t)}.weight"]), b[f"rec_bn.{t}"]) * g, b[f"gated_bn.{t}"]))
    with torch.no_grad():
        torch.testing.assert_close(layer(u), x, atol=1e-5, rtol=1e-5)
    assert len(layer.rec_conv) == (1 if share else T)


def lrn(x, size, alpha=1e-3, beta=0.75):
    """b_c / (1 + alpha / n * sum of b^2 over the n channels around c), Liang & Hu eq. 3."""
    channels = x.shape[1]
    out = torch.empty_like(x)
    for c in range(channels):
        lo, hi = max(0, c - size // 2), min(channels - 1, c + (size - 1) // 2)
        out[:, c] = x[:, c] / (1 + alpha / size * (x[:, lo:hi + 1] ** 2).sum(1)) ** beta
    return out


@pytest.mark.parametrize("share", [True, False])
def test_rcl_matches_its_equations(share):
    torch.manual_seed(2)
    layer = RCL(3, 16, recurrent_steps=T, share_weights=share).eval()
    u = torch.randn(2, 3, 5, 6) * 3  # large activations, so the LRN is far from identity
    w = dict(layer.named_parameters())
    size = 16 // 8 + 1
    # z(t) = w_f * u + w_r * x(t-1) + b;  x(t) = LRN(ReLU(z(t)));  x(0) = LRN(ReLU(w_f * u + b))
    ff = conv(u, w["ff_conv.weight"], w["ff_conv.bias"])
    x = lrn(torch.relu(ff), size)
    for t in range(T):
        x = lrn(torch.relu(ff + conv(x, w[f"rec_conv.{0 if share else t}.weight"])), size)
    with torch.no_grad():
        torch.testing.assert_close(layer(u), x, atol=1e-5, rtol=1e-5)
    assert (x - torch.relu(ff + conv(x, w["rec_conv.0.weight"]))).abs().max() > 1e-3  # LRN did act


def test_zero_recurrent_steps_is_the_feedforward_layer(randomised):
    layer = randomised(GRCL(2, 3, recurrent_steps=0, share_weights=False))
    u = torch.randn(1, 2, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(layer(u), torch.relu(bn(conv(u, layer.ff_conv.weight), layer.ff_bn)))


def test_gates_are_recorded_per_iteration_when_asked():
    layer = GRCL(2, 3, recurrent_steps=T, share_weights=False).eval()
    layer.recorded = []
    layer(torch.randn(1, 2, 4, 6))
    assert len(layer.recorded) == T and layer.recorded[0].shape == (1, 3, 4, 6)
    assert all(((g > 0) & (g < 1)).all() for g in layer.recorded)


@pytest.mark.parametrize("make", [lambda: GRCL(2, 3, recurrent_steps=T, share_weights=True),
                                  lambda: RCL(2, 3, recurrent_steps=T)])
def test_unsharing_copies_each_recurrent_module_per_step_and_keeps_the_function(make, randomised):
    layer = randomised(make())
    u = torch.randn(2, 2, 5, 7)
    with torch.no_grad():
        before = layer(u)
        layer.unshare()
        after = layer(u)
    torch.testing.assert_close(after, before, rtol=0, atol=0)
    assert not layer.share_weights and len(layer.rec_conv) == T
    assert layer.rec_conv[0] is not layer.rec_conv[1]  # separate modules: quantization observes each step
    if isinstance(layer, GRCL):
        assert len(layer.gate_rec_conv) == T and len(layer.rec_bn) == T  # per-step BNs are left as they were
