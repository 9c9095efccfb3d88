"""CRNN's VGG backbone (Shi, Bai & Yao 2015), as in the official Torch code."""
from __future__ import annotations

from torch import nn

from zoo.models.layers import collapse_height, conv_bn_relu, pool_halve, pool_keep_width
from zoo.models.recognizer import Backbone
from zoo.registry import ModelConfig, register_model


class VGGBackbone(Backbone):
    """conv3-64, P, conv3-128, P, conv3-256 +BN, conv3-256, P', conv3-512 +BN, conv3-512, P',
    conv2-512 +BN (P = 2x2/2 max pool, P' = CRNN's width-keeping pool). BatchNorm after conv3, conv5
    and conv7 as in the official code (the paper's Table 1 says conv5 and conv6)."""

    def __init__(self, in_chans: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(in_chans, 64, bn=False), pool_halve(),
            *conv_bn_relu(64, 128, bn=False), pool_halve(),
            *conv_bn_relu(128, 256), *conv_bn_relu(256, 256, bn=False), pool_keep_width(),
            *conv_bn_relu(256, 512), *conv_bn_relu(512, 512, bn=False), pool_keep_width(),
            *collapse_height(512, 512),
        )


@register_model(ModelConfig(
    paper="CRNN, Shi et al. 2015",
    citation="B. Shi, X. Bai, C. Yao. An End-to-End Trainable Neural Network for Image-based Sequence "
             "Recognition and Its Application to Scene Text Recognition. arXiv:1507.05717, TPAMI 2017.",
    width_policy="keep_ratio", hidden_size=256,
    reported={"IC03-860": {"None": 89.4, "50": 98.7, "Full": 97.6, "50k": 95.5}, "SVT-647": {"None": 80.8, "50": 96.4},
              "IIIT5K-3000": {"None": 78.2, "50": 97.6, "1k": 94.4}, "IC13-1015": {"None": 86.7}},
    reported_source="arXiv v1, Table 2 (trained on Synth90k only)",
    notes="Trained at 100x32; tested at height 32 with the width proportional, at least 100.",
))
def crnn_vgg(in_chans: int = 1) -> VGGBackbone:
    return VGGBackbone(in_chans)
