"""Pretraining: a run killed after an epoch and started again ends exactly like an uninterrupted one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mrissl.seqclass.train
from mrissl.seqclass.train import PretrainConfig, pretrain

pytestmark = pytest.mark.usefixtures("two_torch_threads")
TINY = dict(batch_size=8, image_size=32, epochs=2, widen_factor=0.125, seed=3, device="cpu")


@pytest.fixture
def images() -> np.ndarray:
    """32 random float16 slices of 32 x 32, memory-mapped like the curated ones."""
    return np.random.default_rng(0).random((32, 32, 32)).astype(np.float16)


def test_resume_after_kill_equals_uninterrupted(images, tmp_path, monkeypatch):
    config = PretrainConfig(method="simclr", **TINY)
    uninterrupted = pretrain(images, config, tmp_path / "whole")

    # Kill the second run in the middle of epoch 2 (4 batches per epoch, 2 augment calls per batch).
    calls = {"n": 0}
    real_augment = mrissl.seqclass.train.augment_batch

    def dies_in_epoch_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2 * 4 + 3:
            raise KeyboardInterrupt("killed")
        return real_augment(*args, **kwargs)

    monkeypatch.setattr(mrissl.seqclass.train, "augment_batch", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        pretrain(images, config, tmp_path / "killed")
    saved = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)
    assert saved["epoch"] == 1

    monkeypatch.setattr(mrissl.seqclass.train, "augment_batch", real_augment)
    torch.manual_seed(12345)  # a fresh process has another global random state: must not matter
    resumed = pretrain(images, config, tmp_path / "killed")

    assert resumed.metrics.to_csv(index=False) == uninterrupted.metrics.to_csv(index=False)
    assert list(resumed.metrics["epoch"]) == [1, 2]
    for key, value in uninterrupted.encoder_final.items():
        assert torch.equal(resumed.encoder_final[key], value), key
    for key, value in uninterrupted.encoder_initial.items():
        assert torch.equal(resumed.encoder_initial[key], value), key
    # Training moved the weights away from the saved epoch-0 encoder.
    assert not torch.equal(uninterrupted.encoder_final["conv1.weight"], uninterrupted.encoder_initial["conv1.weight"])


def test_finished_run_is_not_trained_again_and_other_settings_are_refused(images, tmp_path):
    config = PretrainConfig(method="simsiam", **{**TINY, "epochs": 1})
    first = pretrain(images, config, tmp_path)
    again = pretrain(images, config, tmp_path)
    assert first.metrics.to_csv(index=False) == again.metrics.to_csv(index=False)
    row = first.metrics.iloc[0]
    assert -1.0 <= row["loss"] <= 1.0 and 0.0 <= row["contrastive_top1"] <= 1.0 and row["z_std"] > 0
    with pytest.raises(ValueError, match="other settings"):
        pretrain(images, PretrainConfig(method="simsiam", **{**TINY, "epochs": 1, "lr": 0.1}), tmp_path)


def test_settings_from_config_mapping():
    config = PretrainConfig.from_dict({"method": "simsiam", "epochs": 3, "augment": {"max_rotation_deg": 5.0}})
    assert config.epochs == 3 and config.augment.max_rotation_deg == 5.0
    with pytest.raises(ValueError, match="seqclass.pretrain has unknown keys"):
        PretrainConfig.from_dict({"epoch": 3})


def test_batch_larger_than_data_is_a_clear_error(images, tmp_path):
    with pytest.raises(ValueError, match="cannot fill one batch"):
        pretrain(images, PretrainConfig(**{**TINY, "batch_size": 64}), tmp_path)
