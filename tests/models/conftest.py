import pytest
import torch


def _randomise_batchnorms(module):
    """Eval mode with non-trivial BN statistics and affine terms, so a BN that is misplaced or
    folded the wrong way changes the numbers."""
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return module.eval()


@pytest.fixture
def randomised():
    return _randomise_batchnorms
