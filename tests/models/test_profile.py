import torch

import zoo
from zoo.models.layers import ChannelLRN
from zoo.models.profile import gflops, lstm_flops


def test_lstm_flops_by_hand():
    lstm = torch.nn.LSTM(512, 256, bidirectional=True)
    assert lstm_flops(lstm, steps=26) == 2 * 26 * 2 * 4 * 256 * (512 + 256)


def test_crnn_gflops_by_hand():
    # multiply-adds per conv: out_h * out_w * cin * cout * k * k, for a 100x32 input
    convs = [(32, 100, 1, 64, 3), (16, 50, 64, 128, 3), (8, 25, 128, 256, 3), (8, 25, 256, 256, 3),
             (4, 26, 256, 512, 3), (4, 26, 512, 512, 3), (1, 26, 512, 512, 2)]
    conv_macs = sum(h * w * ci * co * k * k for h, w, ci, co, k in convs)
    lstm_macs = 26 * 2 * 4 * 256 * (512 + 256) + 26 * 2 * 4 * 256 * (256 + 256)
    linear_macs = 26 * (512 * 256 + 512 * 37)
    expected = 2 * (conv_macs + lstm_macs + linear_macs) / 1e9
    assert abs(gflops(zoo.create_model("crnn_vgg")) - expected) < 1e-6


def test_lrn_counts_its_window_not_the_dense_band_it_is_computed_with():
    # a 1x1 conv to 16 channels on 4x5, then an LRN over 3 channels: 3 multiply-adds per element
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 1, bias=False), ChannelLRN(16, 3))
    expected = 2 * (16 * 4 * 5 + 3 * 16 * 4 * 5) / 1e9
    assert abs(gflops(model, height=4, width=5) - expected) < 1e-12
