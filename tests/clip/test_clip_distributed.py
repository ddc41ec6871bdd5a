"""clip training over two processes (gloo on the CPU), without augmentation (whose draws differ per
rank): the CLIP model and the image-only baseline train as one process on the whole batch would.

The model normalises with instance norm here: a convolution's bias before a normalisation has a
gradient of zero up to rounding, which Adam turns into full steps of +-lr whose signs are rounding
noise, and batch norm's running mean follows them, so one process and two would part at validation
for reasons that have nothing to do with the split (synchronised batch norm: test_training_distributed
and tests/seqclass). Instance norm keeps no running statistics: the outputs do not see those biases.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mrissl.clip.augment import AugmentConfig
from mrissl.clip.models import ModelConfig
from mrissl.clip.train import TrainConfig, embed, to_device, train_clip, train_image_classifier
from mrissl.training import run_in_processes

pytestmark = pytest.mark.usefixtures("process_server")
CONFIG = TrainConfig(epochs=2, batch_size=4, lr=0.01, seed=1, device="cpu", augment=AugmentConfig(enabled=False),
                     model=ModelConfig(features=(4, 8, 8), image_dim=16, text_dim=16, projection_dim=8, norm="instance"))
VOXEL_MM = (2.0, 2.0, 8.0)
TRAIN, VALIDATION = np.arange(0, 9), np.arange(9, 14)  # 2 batches of 4; validation batches of 4 (5 studies)


@pytest.fixture(scope="module")
def volumes():
    return np.random.default_rng(0).random((14, 3, 24, 24, 8), dtype=np.float32)


def assert_same_training(two, one, outputs):
    """Same losses, learning rates, temperatures and best epoch; the same ``outputs(model)``."""
    metrics = ["train_loss", "val_loss", "lr", "logit_scale"]
    np.testing.assert_allclose(two.metrics[metrics].to_numpy(), one.metrics[metrics].to_numpy(), rtol=1e-5, atol=1e-5)
    assert two.best_epoch == one.best_epoch
    with torch.no_grad():
        torch.testing.assert_close(outputs(two.model), outputs(one.model), rtol=1e-4, atol=1e-5)


def test_clip_model_in_two_processes_trains_as_one(volumes, tmp_path):
    texts = np.random.default_rng(1).normal(size=(14, 10)).astype(np.float32)
    one = train_clip(volumes, texts, TRAIN, VALIDATION, CONFIG, VOXEL_MM, tmp_path / "one")
    two = run_in_processes(2, train_clip, volumes, texts, TRAIN, VALIDATION, CONFIG, VOXEL_MM, tmp_path / "two",
                           device="cpu")
    assert_same_training(two, one, lambda model: torch.from_numpy(np.concatenate(
        embed(model, volumes, texts, VALIDATION), axis=1)))


def test_image_baseline_in_two_processes_trains_as_one(volumes, tmp_path):
    labels, config = np.arange(14) % 3, dataclasses.replace(CONFIG, epochs=1)
    one = train_image_classifier(volumes, labels, 3, TRAIN, VALIDATION, config, VOXEL_MM, tmp_path / "one")
    two = run_in_processes(2, train_image_classifier, volumes, labels, 3, TRAIN, VALIDATION, config, VOXEL_MM,
                           tmp_path / "two", device="cpu")
    assert_same_training(two, one, lambda model: model(to_device(volumes[VALIDATION], torch.device("cpu"))))
