"""The VGG-M variant (paper 002, 2.4): 3D conv1-conv4 keeping the slices, conv4 collapsing them."""

from __future__ import annotations

import torch

from mrissl.longitudinal.models import NetworkConfig, VGGMFeatures, VGGMNet, as_network_input


def test_conv4_collapses_the_slice_axis():
    features = VGGMFeatures(9, NetworkConfig(width=0.125))
    x = torch.zeros(2, 1, 9, 64, 64)
    after3 = features.conv3(features.conv2(features.conv1(x)))
    assert after3.shape[2] == 9                       # conv1-conv3 keep every slice
    after4 = features.conv4(after3)
    assert after4.shape[2] == 1                       # 3 x 3 x 9 without padding
    assert features.conv4[0].kernel_size == (9, 3, 3) and features.conv4[0].padding == (0, 0, 0)
    assert after4.shape[3:] == (after3.shape[3] - 2, after3.shape[4] - 2)
    assert features(x).dim() == 4                     # conv5 is 2D


def test_paper_shapes_and_channels():
    config = NetworkConfig(width=0.125, batch_norm=False)
    assert config.channels() == (12, 32, 64, 64, 64)
    assert NetworkConfig().channels() == (96, 256, 512, 512, 512)   # VGG-M (Chatfield 2014)
    # 224 x 224 x 9 VBs: 112 -> 56 -> 28 -> 14 -> 14 -> 12 (conv4) -> 6 after the last pooling.
    assert VGGMFeatures(9, config).output_shape(224, 224) == (64, 6, 6)


def test_embedding_and_levels():
    net = VGGMNet((32, 32, 5), 7, NetworkConfig(width=0.125, fc_width=16, conv1_stride=1, conv4_padding=1))
    volumes = torch.rand(3, 32, 32, 5)
    x = as_network_input(volumes)
    assert x.shape == (3, 1, 5, 32, 32) and torch.equal(x[1, 0, 2], volumes[1, :, :, 2])
    embedding, logits = net(x)
    assert embedding.shape == (3, 16) and logits.shape == (3, 7)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.reset_head(5)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("features."))
    assert not torch.equal(before["fc6.1.weight"], after["fc6.1.weight"])
