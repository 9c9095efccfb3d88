"""A DenseNet text-line backbone on the CRNN grid (the GRCNN paper's DenseNet baseline).

Wang & Hu do not publish their DenseNet. This one is DenseNet-BC (Huang et al. 2017: bottleneck
BN-ReLU-conv1x1 to 4k channels, then BN-ReLU-conv3x3 to k, compression 0.5 in the transitions)
laid out on the same grid as CRNN and GRCNN so every backbone gives 26 frames for 100 px:
a conv3-64 stem and 2x2/2 max pool, three dense blocks, transitions whose average pools are
2x2/2, then twice the width-keeping 2x2 kernel with stride (2, 1) and padding (0, 1), and the
shared conv2-512 height collapse. Growth rate 32 and blocks of (6, 12, 22) layers give 5.38M
parameters, within 1.5% of GRCNN's CNN (5.30M), so an ablation compares layouts, not sizes.
"""
from __future__ import annotations

from timm.models.densenet import DenseBlock
from torch import nn

from zoo.models.geometry import Geometry
from zoo.models.layers import collapse_height, conv_bn_relu, pool_halve
from zoo.models.recognizer import Backbone
from zoo.registry import ModelConfig, register_model


class TextDenseBlock(DenseBlock):
    """timm's dense block; its longest path runs through every layer's 3x3 conv."""

    def geometry(self) -> Geometry:
        kernel = 1 + 2 * len(self)
        return Geometry(kernel, 1, (kernel - 1) // 2)


def transition(cin: int, cout: int, keep_width: bool) -> list[nn.Module]:
    """BN-ReLU-conv1x1 (compression), then average pooling on the text-line grid."""
    pool = nn.AvgPool2d((2, 2), (2, 1), (0, 1)) if keep_width else nn.AvgPool2d(2, 2)
    return [nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, 1, bias=False), pool]


class DenseNetBackbone(Backbone):
    def __init__(self, in_chans: int = 1, growth_rate: int = 32, block_layers: tuple[int, ...] = (6, 12, 22),
                 stem_channels: int = 64, bn_size: int = 4, drop_rate: float = 0.0):
        super().__init__()
        if len(block_layers) != 3:
            raise ValueError(f"block_layers needs 3 dense blocks (one per pool of the grid), got {block_layers}")
        layers: list[nn.Module] = [*conv_bn_relu(in_chans, stem_channels), pool_halve()]
        channels = stem_channels
        for i, n in enumerate(block_layers):
            layers.append(TextDenseBlock(n, channels, bn_size, growth_rate, drop_rate=drop_rate))
            channels += n * growth_rate
            layers += transition(channels, channels // 2, keep_width=i > 0)
            channels //= 2
        self.features = nn.Sequential(*layers, *collapse_height(channels, 512))


@register_model(ModelConfig(
    paper="DenseNet-BC, Huang et al. 2017",
    citation="G. Huang, Z. Liu, L. van der Maaten, K. Q. Weinberger. Densely Connected Convolutional "
             "Networks. CVPR 2017. Baseline in J. Wang, X. Hu, Gated Recurrent Convolution Neural "
             "Network for OCR, NIPS 2017 (configuration not published; ours is documented in "
             "zoo/models/densenet.py).",
    hidden_size=512,
    notes="DenseNet-BC, growth 32, blocks (6, 12, 22), parameters matched to GRCNN's CNN.",
))
def densenet(in_chans: int = 1, growth_rate: int = 32, block_layers: tuple[int, ...] = (6, 12, 22),
             drop_rate: float = 0.0) -> DenseNetBackbone:
    return DenseNetBackbone(in_chans, growth_rate, block_layers, drop_rate=drop_rate)
