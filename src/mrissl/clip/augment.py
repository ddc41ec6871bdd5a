"""On-the-fly augmentation of study ``clip`` (paper 003, section 2.1), on the batch, on the device.

The paper used TorchIO per sample; the authors' code applies, each with its own probability, a
random affine (scale 0.95-1.05, rotation +-6 degrees, translation +-5 voxels; p = 0.8), Gaussian
noise (std 0.005-0.01, zero mean; p = 0.5 -- their code also added a random offset of up to 300
to the mean, a slip not copied here), a left-right flip (p = 0.5) and a contrast change (random
gamma, log(gamma) in +-0.3; p = 0.5), on intensities scaled to [0, 1].

Here the affine for the whole batch is one MONAI ``AffineTransform`` (one resampling of the batch),
built in millimetres (``voxel_mm``) so that rotating the anisotropic 2 x 2 x 8 mm grid does not
shear the head; the gamma is MONAI's ``AdjustContrast``; noise and flip are tensor operations.
Every random draw comes from one ``torch.Generator`` (seeded per epoch by the caller), so a run is
reproducible and a resumed one draws what the uninterrupted one drew.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from monai.networks.layers import AffineTransform
from monai.transforms import AdjustContrast

from mrissl.config import config_from_section

LEFT_RIGHT_AXIS = 0  # volumes are (x, y, z) in LPS: x runs right -> left


@dataclass(frozen=True)
class AugmentConfig:
    """``clip.augment`` of the config (probabilities per transform; ``enabled: false`` turns all off)."""

    enabled: bool = True
    affine_p: float = 0.8
    scale: tuple[float, float] = (0.95, 1.05)
    rotation_deg: float = 6.0
    translation_voxels: tuple[float, float, float] = (5.0, 5.0, 5.0)
    noise_p: float = 0.5
    noise_std: tuple[float, float] = (0.005, 0.01)
    flip_p: float = 0.5
    gamma_p: float = 0.5
    log_gamma: float = 0.3

    @classmethod
    def from_config(cls, section: dict) -> AugmentConfig:
        return config_from_section(cls, section, "clip.augment")


def scale_to_unit(volumes: torch.Tensor) -> torch.Tensor:
    """Each sample's channels min-max scaled to [0, 1] (TorchIO's RescaleIntensity((0, 1)), per channel)."""
    flat = volumes.flatten(2)
    low, high = flat.min(dim=2).values, flat.max(dim=2).values
    scale = (high - low).clamp_min(1e-6)
    return (volumes - low[..., None, None, None]) / scale[..., None, None, None]


def _uniform(n: int, low: float, high: float, generator: torch.Generator, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _rotation_matrices(angles: torch.Tensor) -> torch.Tensor:
    """(N, 3) angles in radians about x, y, z -> (N, 3, 3) rotations Rz @ Ry @ Rx."""
    c, s = angles.cos(), angles.sin()
    one, zero = torch.ones_like(c[:, 0]), torch.zeros_like(c[:, 0])
    rx = torch.stack([one, zero, zero, zero, c[:, 0], -s[:, 0], zero, s[:, 0], c[:, 0]], 1).view(-1, 3, 3)
    ry = torch.stack([c[:, 1], zero, s[:, 1], zero, one, zero, -s[:, 1], zero, c[:, 1]], 1).view(-1, 3, 3)
    rz = torch.stack([c[:, 2], -s[:, 2], zero, s[:, 2], c[:, 2], zero, zero, zero, one], 1).view(-1, 3, 3)
    return rz @ ry @ rx


def random_affines(n: int, config: AugmentConfig, voxel_mm: tuple[float, float, float],
                   generator: torch.Generator, device) -> torch.Tensor:
    """(N, 3, 4) voxel-space affines about the volume centre (identity where the affine is not drawn)."""
    apply = torch.rand(n, generator=generator, device=device) < config.affine_p
    angles = _uniform(3 * n, -1.0, 1.0, generator, device).view(n, 3) * math.radians(config.rotation_deg)
    scales = _uniform(3 * n, *config.scale, generator, device).view(n, 3)
    shifts = _uniform(3 * n, -1.0, 1.0, generator, device).view(n, 3) * torch.tensor(
        config.translation_voxels, device=device, dtype=torch.float32)
    spacing = torch.tensor(voxel_mm, device=device, dtype=torch.float32)
    in_mm = _rotation_matrices(angles) @ torch.diag_embed(scales)
    in_voxels = in_mm * spacing[None, None, :] / spacing[None, :, None]  # D^-1 M D
    eye = torch.eye(3, device=device).expand(n, 3, 3)
    matrix = torch.where(apply[:, None, None], in_voxels, eye)
    shifts = torch.where(apply[:, None], shifts, torch.zeros_like(shifts))
    return torch.cat([matrix, shifts[:, :, None]], dim=2)


def augment_batch(volumes: torch.Tensor, config: AugmentConfig, voxel_mm: tuple[float, float, float],
                  generator: torch.Generator) -> torch.Tensor:
    """Augmented copy of the (N, C, x, y, z) batch ``volumes`` (intensities already in [0, 1])."""
    if not config.enabled:
        return volumes
    n, device = len(volumes), volumes.device
    theta = random_affines(n, config, voxel_mm, generator, device)
    out = AffineTransform(normalized=False, zero_centered=True, padding_mode="zeros")(volumes, theta)
    flip = torch.rand(n, generator=generator, device=device) < config.flip_p
    out = torch.where(flip[:, None, None, None, None], out.flip(2 + LEFT_RIGHT_AXIS), out)
    gamma_on = (torch.rand(n, generator=generator, device=device) < config.gamma_p).tolist()
    gammas = _uniform(n, -config.log_gamma, config.log_gamma, generator, device).exp().tolist()
    out = torch.stack([AdjustContrast(gamma)(sample).as_tensor() if on else sample
                       for sample, on, gamma in zip(out.clamp(0.0, 1.0), gamma_on, gammas)])
    noise_on = torch.rand(n, generator=generator, device=device) < config.noise_p
    std = _uniform(n, *config.noise_std, generator, device) * noise_on
    noise = torch.randn(out.shape, generator=generator, device=device)
    return out + std[:, None, None, None, None] * noise
