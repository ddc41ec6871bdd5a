"""Batched augmentation of VB/IVD volumes on the training device (paper 002, section 3.2).

One random affine per volume through ``affine_grid``/``grid_sample`` (trilinear, zero outside):
in-plane rotation of +-15 degrees about the slice axis, translation of +-48 / +-24 px in x / y at
the paper's 224 px (scaled to the volume's size: ``max_shift_fraction``) and a whole number of
slices up to +-2, in-plane scaling 0.9-1.1; then an intensity factor ``1 + U(-0.2, 0.2)`` (a
factor, not an offset, so the zero padding stays zero and the neighbouring VBs' median of 0.5
scales with the rest) and the slice-wise flip, the reflection across the mid-sagittal plane
(the slice order reversed). For a Siamese pair the flip is drawn once per pair and applied to both
volumes (``augment_pair``); everything else is drawn per volume. The grading classifier uses the
same family (``augment_volumes``): the paper's [5] gives no other.

Volumes are ``(N, 1, S, H, W)`` (``mrissl.longitudinal.models.as_network_input``).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    rotation_deg: float = 15.0
    max_shift_fraction: tuple[float, float] = (48.0 / 224.0, 24.0 / 224.0)  # of the width (x) and height (y)
    max_shift_slices: int = 2
    scale: tuple[float, float] = (0.9, 1.1)
    intensity: float = 0.2            # factor 1 + U(-intensity, intensity)
    flip: bool = True                 # slice-wise (mid-sagittal) flip with probability 1/2
    enabled: bool = True


def device_generator(device: torch.device, seed: int) -> torch.Generator:
    """A generator on ``device`` seeded with ``seed`` (augmentation draws happen where the batch is)."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def _uniform(n: int, low: float, high: float, generator: torch.Generator, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def draw_flips(n: int, generator: torch.Generator, device) -> torch.Tensor:
    """(n,) booleans: which volumes (or pairs) get the slice-wise flip."""
    return torch.rand(n, generator=generator, device=device) < 0.5


def flip_slices(volumes: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Reverse the slice order of the volumes where ``flips`` is true (reflection across the mid-sagittal)."""
    return torch.where(flips.view(-1, 1, 1, 1, 1), volumes.flip(2), volumes)


def affine_matrices(n: int, shape: tuple[int, int, int], config: AugmentConfig, generator: torch.Generator,
                    device) -> torch.Tensor:
    """(n, 3, 4) ``affine_grid`` matrices (normalised coordinates x = W, y = H, z = S) of random
    rotations, scalings and translations."""
    n_slices, _, _ = shape
    angle = torch.deg2rad(_uniform(n, -config.rotation_deg, config.rotation_deg, generator, device))
    scale = _uniform(n, *config.scale, generator, device)
    # A translation of t pixels is 2 t / size in normalised coordinates; here t = fraction * size.
    tx = 2.0 * _uniform(n, -config.max_shift_fraction[0], config.max_shift_fraction[0], generator, device)
    ty = 2.0 * _uniform(n, -config.max_shift_fraction[1], config.max_shift_fraction[1], generator, device)
    slices = torch.randint(-config.max_shift_slices, config.max_shift_slices + 1, (n,), generator=generator,
                           device=device)
    tz = 2.0 * slices.to(angle.dtype) / n_slices
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.zeros(n, 3, 4, device=device)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
    theta[:, 2, 2] = 1.0
    theta[:, 0, 3], theta[:, 1, 3], theta[:, 2, 3] = tx, ty, tz
    return theta


def is_geometric(config: AugmentConfig) -> bool:
    """Whether ``config`` moves voxels at all (else the resampling is skipped)."""
    return bool(config.rotation_deg or any(config.max_shift_fraction) or config.max_shift_slices
                or tuple(config.scale) != (1.0, 1.0))


def augment_volumes(volumes: torch.Tensor, config: AugmentConfig, generator: torch.Generator,
                    flips: torch.Tensor | None = None) -> torch.Tensor:
    """Augmented copies of ``volumes`` (N, 1, S, H, W); ``flips`` (N,) overrides the flip draw."""
    if not config.enabled:
        return volumes
    n, device = volumes.shape[0], volumes.device
    out = volumes
    if is_geometric(config):
        theta = affine_matrices(n, tuple(volumes.shape[2:]), config, generator, device)
        grid = F.affine_grid(theta, list(volumes.shape), align_corners=False)
        out = F.grid_sample(volumes, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    factor = 1.0 + _uniform(n, -config.intensity, config.intensity, generator, device)
    out = out * factor.view(-1, 1, 1, 1, 1)
    if flips is None:
        flips = draw_flips(n, generator, device) if config.flip else torch.zeros(n, dtype=torch.bool, device=device)
    return flip_slices(out, flips)


def augment_pair(a: torch.Tensor, b: torch.Tensor, config: AugmentConfig,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment the two volumes of each pair independently, except the slice-wise flip: one draw per
    pair, applied to both (paper: "done on a per VB pair basis")."""
    n = a.shape[0]
    flips = (draw_flips(n, generator, a.device) if config.flip
             else torch.zeros(n, dtype=torch.bool, device=a.device))
    return augment_volumes(a, config, generator, flips), augment_volumes(b, config, generator, flips)
