import pytest
import torch

from zoo.models.layers import ChannelLRN


@pytest.mark.parametrize("channels", [16, 64, 256])
def test_banded_lrn_equals_torch_local_response_norm_forward_and_backward(channels):
    size = channels // 8 + 1
    x = (torch.randn(2, channels, 4, 5) * 4).requires_grad_()
    ours = ChannelLRN(channels, size, alpha=1e-3, beta=0.75, k=1.0)(x)
    torchs = torch.nn.LocalResponseNorm(size, alpha=1e-3, beta=0.75, k=1.0)(x)
    torch.testing.assert_close(ours, torchs, atol=1e-6, rtol=1e-5)
    weights = torch.randn_like(ours)
    grad_ours, = torch.autograd.grad((ours * weights).sum(), x)
    grad_torchs, = torch.autograd.grad((torchs * weights).sum(), x)
    torch.testing.assert_close(grad_ours, grad_torchs, atol=1e-6, rtol=1e-5)


def test_banded_lrn_has_no_state_dict_entries():
    assert ChannelLRN(8, 2).state_dict() == {}
