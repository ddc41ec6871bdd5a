"""Pretraining: resumable runs (a run killed after an epoch ends exactly like an uninterrupted one), positive pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import mrissl.seqclass.train
from mrissl.seqclass.train import PretrainConfig, SeriesPartners, pretrain, pretrain_from_file

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


def test_series_partners_are_other_slices_of_the_same_series():
    series = np.array(["b", "a", "b", "c", "a", "b", "a"])
    partners = SeriesPartners(series)
    rows = np.tile(np.arange(len(series)), 200)
    drawn = partners.draw(rows, np.random.default_rng(0))
    assert np.array_equal(series[drawn], series[rows])
    assert np.array_equal(drawn[rows == 3], np.full((rows == 3).sum(), 3))  # alone in its series: itself
    assert not np.any((drawn == rows) & (rows != 3))
    # Each other member of the series is drawn, about equally often (row 0's series b: rows 2 and 5).
    counts = np.bincount(drawn[rows == 0], minlength=len(series))
    assert set(np.flatnonzero(counts)) == {2, 5} and abs(counts[2] - counts[5]) < 60


def test_series_positives_pair_each_slice_with_its_series_partner(images, tmp_path, monkeypatch):
    # Series of two slices (rows 2k and 2k+1): the second view of row r is augmented from row r ^ 1.
    series = np.repeat(np.arange(16), 2).astype(str)
    seen = []
    real_augment = mrissl.seqclass.train.augment_batch

    def records(batch, *args, **kwargs):
        seen.append(batch.clone())
        return real_augment(batch, *args, **kwargs)

    monkeypatch.setattr(mrissl.seqclass.train, "augment_batch", records)
    pretrain(images, PretrainConfig(positives="series", **{**TINY, "epochs": 1}), tmp_path / "series", series)
    pixels = torch.tensor(images.astype(np.float32)).flatten(1)
    for first, second in zip(seen[::2], seen[1::2]):
        rows = [int(torch.argmin((pixels - image.flatten()).abs().sum(1))) for image in first[:, 0]]
        partner_rows = [int(torch.argmin((pixels - image.flatten()).abs().sum(1))) for image in second[:, 0]]
        assert partner_rows == [row ^ 1 for row in rows]


def test_series_positives_of_single_slice_series_are_the_views(images, tmp_path):
    views = pretrain(images, PretrainConfig(**{**TINY, "epochs": 1}), tmp_path / "views")
    alone = pretrain(images, PretrainConfig(positives="series", **{**TINY, "epochs": 1}), tmp_path / "series",
                     np.arange(len(images)).astype(str))
    assert views.metrics.equals(alone.metrics)
    for key, value in views.encoder_final.items():
        assert torch.equal(alone.encoder_final[key], value), key


def test_series_positives_need_the_series_and_a_known_name(images, tmp_path):
    with pytest.raises(ValueError, match="series key of every training slice"):
        pretrain(images, PretrainConfig(positives="series", **TINY), tmp_path)
    with pytest.raises(ValueError, match="seqclass.pretrain.positives is 'patients'"):
        PretrainConfig(positives="patients")


def test_pretraining_from_files_takes_the_series_from_the_slice_index(images, tmp_path):
    np.save(tmp_path / "train.npy", images)
    index = pd.DataFrame({"row": range(len(images)), "series_key": np.repeat(np.arange(16), 2).astype(str),
                          "study_key": "s", "patient_key": "p", "plane": "axial", "slice_index": 0, "label": "T1"})
    index.to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    config = PretrainConfig(positives="series", **{**TINY, "epochs": 1})
    result = pretrain_from_file(tmp_path / "train.npy", config, tmp_path / "run", tmp_path / "train.tsv")
    assert list(result.metrics["epoch"]) == [1]
    index.iloc[:-1].to_csv(tmp_path / "short.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match="different curation runs"):
        pretrain_from_file(tmp_path / "train.npy", config, tmp_path / "other", tmp_path / "short.tsv")
