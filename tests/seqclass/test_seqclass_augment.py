"""Batched augmentation: shapes and intensity range kept, flips exact, reproducible by seed."""

from __future__ import annotations

import numpy as np
import torch

from mrissl.seqclass.augment import AugmentConfig, augment_batch, bicubic_weights, device_generator
from mrissl.seqclass.datasets import to_batch

CPU = torch.device("cpu")


def smooth_images(n: int = 6, size: int = 40) -> torch.Tensor:
    """Images in [0.2, 0.7] with structure (a bright disc on a gradient), so warps change pixels."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    base = 0.2 + 0.2 * (x + 1) / 2 + 0.3 * ((x - 0.3) ** 2 + y ** 2 < 0.2).float()
    return base.expand(n, 1, size, size).clone()


def test_augment_keeps_shape_and_intensity_range():
    images = smooth_images()
    strong = AugmentConfig(flip_prob=0.5, max_rotation_deg=45, elastic_std_px=4.0)
    out = augment_batch(images, strong, device_generator(CPU, 1))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= images.min() - 1e-6 and out.max() <= images.max() + 1e-6
    assert not torch.allclose(out, images)  # it did change the geometry


def test_augment_identity_and_flips_are_exact():
    images = smooth_images()
    identity = AugmentConfig(flip_prob=0.0, max_rotation_deg=0.0, elastic_std_px=0.0)
    assert torch.allclose(augment_batch(images, identity, device_generator(CPU, 0)), images, atol=1e-5)
    both_flips = AugmentConfig(flip_prob=1.0, max_rotation_deg=0.0, elastic_std_px=0.0)
    flipped = augment_batch(images, both_flips, device_generator(CPU, 0))
    assert torch.allclose(flipped, torch.flip(images, dims=(2, 3)), atol=1e-5)


def test_augment_is_reproducible_by_seed_and_differs_per_image():
    images = smooth_images()
    config = AugmentConfig()
    first = augment_batch(images, config, device_generator(CPU, 7))
    again = augment_batch(images, config, device_generator(CPU, 7))
    other = augment_batch(images, config, device_generator(CPU, 8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert not torch.allclose(first[0], first[1])  # each image of the batch gets its own draw


def test_to_batch_resizes_within_range():
    slices = np.random.default_rng(0).uniform(0.1, 0.9, size=(3, 84, 84)).astype(np.float16)
    batch = to_batch(slices, CPU, image_size=64)
    assert batch.shape == (3, 1, 64, 64) and batch.dtype == torch.float32
    assert batch.min() >= 0.1 - 1e-3 and batch.max() <= 0.9 + 1e-3
    assert torch.equal(to_batch(slices, CPU, image_size=84)[:, 0], torch.from_numpy(slices.astype(np.float32)))




def test_separable_bicubic_weights_equal_torch_bicubic_upsampling():
    coarse = torch.randn(3, 2, 5, 5, generator=torch.Generator().manual_seed(0))
    expected = torch.nn.functional.interpolate(coarse, size=(84, 60), mode="bicubic", align_corners=True)
    cpu = torch.device("cpu")
    torch.testing.assert_close(bicubic_weights(5, 84, cpu) @ coarse @ bicubic_weights(5, 60, cpu).T, expected)
