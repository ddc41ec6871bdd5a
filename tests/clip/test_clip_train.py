"""Training of the clip model: runs, keeps the best epoch, resumes after a kill, reads cached text
features only, and never the true class."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

import mrissl.clip.text
import mrissl.clip.train as train_module
import mrissl.text_encoders
from conftest import REPO
from mrissl.clip.models import ModelConfig
from mrissl.clip.train import (
    TRAINING_COLUMNS,
    TrainConfig,
    embed,
    load_clip_model,
    model_checkpoint,
    read_training_index,
    split_rows,
    train_clip,
    train_image_classifier,
    validation_batches,
)

SHAPE = (3, 24, 24, 8)
CONFIG = TrainConfig(epochs=3, batch_size=4, lr=0.01, seed=1, device="cpu",
                     model=ModelConfig(features=(4, 8, 8), image_dim=16, text_dim=16, projection_dim=8))


def _data(n: int = 14, seed: int = 0):
    rng = np.random.default_rng(seed)
    volumes = rng.random((n, *SHAPE), dtype=np.float32)
    texts = rng.normal(size=(n, 10)).astype(np.float32)
    return volumes, texts


def test_validation_batches_are_full_and_cover_the_set():
    batches = validation_batches(12, 8)
    assert [b.tolist() for b in batches] == [list(range(8)), [8, 9, 10, 11, 0, 1, 2, 3]]
    assert [b.tolist() for b in validation_batches(3, 8)] == [[0, 1, 2]]


@pytest.fixture
def no_text_encoder(monkeypatch):
    """Any attempt to load a text encoder fails: training must use the cached features."""
    def refuse(*args, **kwargs):
        raise AssertionError("training loaded a text encoder instead of the cached features")
    for module in (mrissl.text_encoders, mrissl.clip.text):
        monkeypatch.setattr(module, "load_text_model", refuse)
        monkeypatch.setattr(module, "load_tokenizer", refuse)


def test_train_keeps_the_best_epoch_and_resumes_after_a_kill(tmp_path, monkeypatch, no_text_encoder):
    torch.set_num_threads(1)
    volumes, texts = _data()
    train_rows, val_rows = np.arange(0, 9), np.arange(9, 14)
    full = train_clip(volumes, texts, train_rows, val_rows, CONFIG, (2.0, 2.0, 8.0), tmp_path / "full")
    assert full.metrics["epoch"].tolist() == [1, 2, 3]
    assert full.best_epoch == int(full.metrics["val_loss"].idxmin()) + 1
    assert np.isfinite(full.metrics[["train_loss", "val_loss"]].to_numpy()).all()
    assert (full.metrics["logit_scale"] <= 100.0 + 1e-3).all()

    # Kill the second run right after its first epoch's checkpoint, then start it again.
    real_save, saves = train_module.save_atomically, []

    def save_then_die(obj, path):
        real_save(obj, path)
        saves.append(path.name)
        if path.name == "last.pt":
            raise KeyboardInterrupt
    monkeypatch.setattr(train_module, "save_atomically", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_clip(volumes, texts, train_rows, val_rows, CONFIG, (2.0, 2.0, 8.0), tmp_path / "killed")
    monkeypatch.setattr(train_module, "save_atomically", real_save)
    assert torch.load(tmp_path / "killed" / "last.pt", weights_only=True)["epoch"] == 1
    resumed = train_clip(volumes, texts, train_rows, val_rows, CONFIG, (2.0, 2.0, 8.0), tmp_path / "killed")
    pd.testing.assert_frame_equal(resumed.metrics.drop(columns="seconds"), full.metrics.drop(columns="seconds"))
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key

    with pytest.raises(ValueError, match="other settings"):
        train_clip(volumes, texts, train_rows, val_rows, dataclasses.replace(CONFIG, lr=0.02), (2.0, 2.0, 8.0),
                   tmp_path / "killed")

    # The saved checkpoint loads back with weights_only and embeds to the unit sphere.
    torch.save(model_checkpoint(full.model, SHAPE, texts.shape[1]), tmp_path / "model.pt")
    images, reports = embed(load_clip_model(tmp_path / "model.pt"), volumes, texts, val_rows)
    assert images.shape == reports.shape == (5, 8)
    assert np.allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)


def test_image_baseline_trains_on_report_classes(tmp_path):
    torch.set_num_threads(1)
    volumes, _ = _data()
    labels = np.arange(14) % 3
    result = train_image_classifier(volumes, labels, 3, np.arange(9), np.arange(9, 14),
                                    dataclasses.replace(CONFIG, epochs=2), (2.0, 2.0, 8.0), tmp_path)
    assert len(result.metrics) == 2 and result.model(torch.rand(2, *SHAPE)).shape == (2, 3)


def test_training_never_reads_the_true_class(tmp_path):
    index = pd.DataFrame({"row": [0, 1, 2], "patient_key": list("abc"), "study_key": ["s0", "s1", "s2"],
                          "report_class": ["normal", "tumour", "infarct"],
                          "true_class": ["DO NOT READ"] * 3, "report": ["x", "y", "z"]})
    path = tmp_path / "index.tsv"
    index.to_csv(path, sep="\t", index=False)
    read = read_training_index(path)
    assert list(read.columns) == TRAINING_COLUMNS and "true_class" not in TRAINING_COLUMNS
    splits = pd.DataFrame({"study_key": ["s0", "s1", "s2"], "split": ["train", "val", "test"]})
    assert {k: v.tolist() for k, v in split_rows(read, splits).items()} == {"train": [0], "val": [1], "test": [2]}
    # No module on the training path names the column (evaluation modules may).
    for name in ("train.py", "models.py", "augment.py", "text.py", "losses.py"):
        assert "true_class" not in (REPO / "src/mrissl/clip" / name).read_text(), name
