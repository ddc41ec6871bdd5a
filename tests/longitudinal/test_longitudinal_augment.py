"""Batched augmentation (paper 002, 3.2): the slice-wise flip alike for both VBs of a pair."""

from __future__ import annotations

import torch

from mrissl.longitudinal.augment import AugmentConfig, augment_pair, augment_volumes, device_generator

STILL = AugmentConfig(rotation_deg=0.0, max_shift_fraction=(0.0, 0.0), max_shift_slices=0, scale=(1.0, 1.0),
                      intensity=0.0)


def ramp(n: int, slices: int = 9) -> torch.Tensor:
    """Volumes whose slices differ (slice k holds k + 1), so a flip shows."""
    x = torch.arange(1.0, slices + 1).view(1, 1, slices, 1, 1).expand(n, 1, slices, 8, 8).clone()
    return x + torch.rand(n, 1, 1, 1, 1)


def flipped(original: torch.Tensor, augmented: torch.Tensor) -> torch.Tensor:
    assert all(torch.equal(o, a) or torch.equal(o.flip(1), a) for o, a in zip(original, augmented))
    return torch.tensor([torch.equal(o.flip(1), a) for o, a in zip(original, augmented)])


def test_pair_flips_alike():
    a, b = ramp(64), ramp(64)
    out_a, out_b = augment_pair(a, b, STILL, device_generator(torch.device("cpu"), 0))
    flips_a, flips_b = flipped(a, out_a), flipped(b, out_b)
    assert torch.equal(flips_a, flips_b)
    assert 10 < int(flips_a.sum()) < 54            # about half, drawn per pair


def test_volumes_flip_independently_without_a_pair():
    a = ramp(64)
    flips = flipped(a, augment_volumes(a, STILL, device_generator(torch.device("cpu"), 1)))
    assert 10 < int(flips.sum()) < 54


def test_slice_shift_moves_whole_slices():
    config = AugmentConfig(rotation_deg=0.0, max_shift_fraction=(0.0, 0.0), max_shift_slices=2, scale=(1.0, 1.0),
                           intensity=0.0, flip=False)
    x = torch.zeros(32, 1, 9, 8, 8)
    x[:, :, 4] = 1.0
    out = augment_volumes(x, config, device_generator(torch.device("cpu"), 2))
    bright = out.mean(dim=(1, 3, 4))
    assert torch.allclose(bright.max(dim=1).values, torch.ones(32), atol=1e-5)   # a whole slice, not a blend
    positions = set(bright.argmax(dim=1).tolist())
    assert positions <= {2, 3, 4, 5, 6} and len(positions) > 2


def test_geometry_and_intensity_in_range():
    config = AugmentConfig(flip=False)
    x = torch.ones(16, 1, 9, 32, 32)
    out = augment_volumes(x, config, device_generator(torch.device("cpu"), 3))
    # The centre stays inside for every draw (shifts <= 21% / 11%): its value is the intensity factor.
    centre = out[:, 0, 4, 16, 16]
    assert ((centre >= 0.8 - 1e-5) & (centre <= 1.2 + 1e-5)).all()
    assert out.shape == x.shape and not torch.equal(out, x)
    assert torch.equal(augment_volumes(x, AugmentConfig(enabled=False), device_generator(torch.device("cpu"), 3)), x)
