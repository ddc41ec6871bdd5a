"""Acquisition simulation shared by every phantom cohort.

An object (an anatomy's contrast image on its own voxel grid) is imaged on an acquired grid of
given orientation, spacing and matrix: blurred to the acquired resolution, resampled through a
smooth deformation (subject anatomy, head pose, EPI distortion), multiplied by a coil bias field,
given EPI blur and ghosting and Rician noise; ``vendor_intensity_scale`` gives the factor a cohort
hands to the DICOM writer.

Geometry: ``Acquisition.affine_lps`` follows ``mrissl.phantoms.dicom`` (column i, row j, slice k
to patient LPS mm). A ``Deformation`` maps scanner LPS mm to object mm; the object grid's affine
maps its voxels to object mm. The deformation is evaluated on a coarse lattice of the acquired grid
and spline-interpolated separably, so its cost does not grow with the number of voxels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.interpolate import make_interp_spline
from scipy.spatial.transform import Rotation

# (row direction, column direction) in LPS: radiological display, head up, anterior up on axials.
PLANE_DIRECTIONS = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}
LATTICE_STEP_VOXELS = 8  # spacing of the coarse lattice the deformation is evaluated on
# Rescaled intensity range of a series' brightest voxel, per manufacturer (stored values x slope).
VENDOR_INTENSITY_RANGE = {
    "SIEMENS": (400.0, 4000.0), "GE MEDICAL SYSTEMS": (1000.0, 30000.0), "Philips Medical Systems": (0.5, 5.0),
}


@dataclass(frozen=True)
class Acquisition:
    """An acquired voxel grid: ``affine_lps`` maps (i, j, k) to scanner LPS mm."""

    affine_lps: np.ndarray
    shape: tuple[int, int, int]
    slice_thickness_mm: float
    plane: str
    phase_axis: int  # in-plane axis (0: i, 1: j) of phase encoding

    @property
    def spacing_mm(self) -> np.ndarray:
        return np.linalg.norm(self.affine_lps[:3, :3], axis=0)

    @property
    def phase_direction_lps(self) -> np.ndarray:
        column = self.affine_lps[:3, self.phase_axis]
        return column / np.linalg.norm(column)


def plan_acquisition(
    plane: str,
    center_lps: np.ndarray,
    *,
    fov_mm: float,
    matrix: int,
    phase_fov: float,
    phase_axis: int,
    n_slices: int,
    slice_thickness_mm: float,
    slice_gap_mm: float,
    rotation: np.ndarray,
) -> Acquisition:
    """A grid of ``n_slices`` slices in ``plane``, centred on ``center_lps``, tilted by ``rotation`` (3x3).

    The in-plane matrix is ``matrix`` along the read axis and ``round(matrix * phase_fov)`` along
    the phase axis, with square pixels of ``fov_mm / matrix``.
    """
    if plane not in PLANE_DIRECTIONS:
        raise ValueError(f"unknown plane {plane!r}; use one of {sorted(PLANE_DIRECTIONS)}")
    row, col = (rotation @ np.asarray(v) for v in PLANE_DIRECTIONS[plane])
    normal = np.cross(row, col)
    pixel = fov_mm / matrix
    in_plane = [matrix, matrix]
    in_plane[phase_axis] = max(8, int(round(matrix * phase_fov)))
    shape = (in_plane[0], in_plane[1], int(n_slices))
    spacing = slice_thickness_mm + slice_gap_mm
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2] = row * pixel, col * pixel, normal * spacing
    affine[:3, 3] = np.asarray(center_lps) - affine[:3, :3] @ ((np.array(shape) - 1) / 2.0)
    return Acquisition(affine, shape, float(slice_thickness_mm), plane, phase_axis)


def small_rotation(rng: np.random.Generator, max_degrees: float) -> np.ndarray:
    """A rotation about a random axis by an angle uniform in [0, max_degrees]."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    return Rotation.from_rotvec(axis * np.radians(rng.uniform(0.0, max_degrees))).as_matrix()


@dataclass(frozen=True)
class Deformation:
    """Scanner LPS mm -> object mm: ``y = linear @ p``, then ``y + displacement(y)``.

    ``displacement`` is (3, a, b, c) in object mm on a coarse grid whose voxels
    ``displacement_affine`` maps to object mm (None: no elastic part).
    """

    linear: np.ndarray
    displacement: np.ndarray | None = None
    displacement_affine: np.ndarray | None = None

    def after(self, pose: np.ndarray) -> Deformation:
        """This deformation applied after the 4x4 map ``pose`` (e.g. scanner -> subject head pose)."""
        return Deformation(self.linear @ pose, self.displacement, self.displacement_affine)

    def displacement_at(self, points_mm: np.ndarray) -> np.ndarray:
        """(N, 3) displacement in object mm at (N, 3) object points (trilinear, edge-clamped)."""
        if self.displacement is None:
            return np.zeros_like(points_mm)
        vox = _apply(np.linalg.inv(self.displacement_affine), points_mm).T
        return np.stack(
            [ndimage.map_coordinates(d, vox, order=1, mode="nearest") for d in self.displacement], axis=1
        )


def random_displacement(
    rng: np.random.Generator, lo_mm: np.ndarray, hi_mm: np.ndarray, *, spacing_mm: float, rms_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random displacement field over the box [lo, hi] mm: (field (3, a, b, c), affine)."""
    lo, hi = np.asarray(lo_mm, float), np.asarray(hi_mm, float)
    shape = tuple(int(np.ceil((h - l) / spacing_mm)) + 1 for l, h in zip(lo, hi))
    field = ndimage.gaussian_filter(rng.normal(size=(3, *shape)), sigma=(0, 1, 1, 1), mode="nearest")
    field *= rms_mm / max(float(np.sqrt((field**2).sum(axis=0).mean())), 1e-9)
    affine = np.diag([spacing_mm, spacing_mm, spacing_mm, 1.0])
    affine[:3, 3] = lo
    return field, affine


@dataclass(frozen=True)
class EpiDistortion:
    """Off-resonance shift along the phase-encode direction: ``mm_per_ppm`` x field (ppm) at each point."""

    field_ppm: np.ndarray
    field_affine: np.ndarray
    mm_per_ppm: float

    def shift_mm(self, points_mm: np.ndarray) -> np.ndarray:
        vox = _apply(np.linalg.inv(self.field_affine), points_mm).T
        return ndimage.map_coordinates(self.field_ppm, vox, order=1, mode="nearest") * self.mm_per_ppm


def _apply(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ affine[:3, :3].T + affine[:3, 3]


def _spline_weights(n: int, m: int) -> np.ndarray:
    """(n, m): values at 0..n-1 of the spline through m evenly spaced nodes (exact for linear data)."""
    nodes = np.linspace(0.0, n - 1.0, m)
    return make_interp_spline(nodes, np.eye(m), k=min(3, m - 1))(np.arange(n, dtype=float))


def separable_upsample(coarse: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """(C, a, b, c) node values -> (C, *shape) float32 by a tensor-product spline spanning each axis."""
    wx, wy, wz = (_spline_weights(n, m).astype(np.float32) for n, m in zip(shape, coarse.shape[1:]))
    out = coarse.astype(np.float32) @ wz.T                      # (C, a, b, nz)
    out = np.matmul(wy, out)                                    # (C, a, ny, nz)
    channels, a = out.shape[:2]
    out = np.matmul(wx, out.reshape(channels, a, -1))           # (C, nx, ny * nz)
    return out.reshape(channels, *shape)


def voxel_coordinates(
    acquisition: Acquisition,
    deformation: Deformation,
    object_affine: np.ndarray,
    epi: EpiDistortion | None = None,
) -> np.ndarray:
    """(3, *acquisition.shape) object-voxel coordinates of every acquired voxel centre."""
    shape = acquisition.shape
    counts = [max(2, int(np.ceil((n - 1) / LATTICE_STEP_VOXELS)) + 1) for n in shape]
    nodes = np.stack(
        np.meshgrid(*[np.linspace(0.0, n - 1.0, m) for n, m in zip(shape, counts)], indexing="ij"), axis=-1
    ).reshape(-1, 3)
    y = _apply(deformation.linear @ acquisition.affine_lps, nodes)
    if epi is not None:
        direction = deformation.linear[:3, :3] @ acquisition.phase_direction_lps
        y = y + epi.shift_mm(y)[:, None] * direction[None, :]
    y = y + deformation.displacement_at(y)
    vox = _apply(np.linalg.inv(object_affine), y)
    return separable_upsample(vox.T.reshape(3, *counts), shape)


def acquisition_region(
    acquisition: Acquisition, deformation: Deformation, object_affine: np.ndarray,
    object_shape: tuple[int, int, int], margin_mm: float,
) -> tuple[slice, slice, slice]:
    """The object voxels the acquired grid can reach (its corners' bounding box plus ``margin_mm``)."""
    corners = np.array(np.meshgrid(*[[-0.5, n - 0.5] for n in acquisition.shape], indexing="ij"))
    corners = corners.reshape(3, -1).T
    vox = _apply(np.linalg.inv(object_affine) @ deformation.linear @ acquisition.affine_lps, corners)
    margin = margin_mm / np.linalg.norm(object_affine[:3, :3], axis=0)
    lo = np.clip(np.floor(vox.min(axis=0) - margin), 0, np.array(object_shape) - 1).astype(int)
    hi = np.clip(np.ceil(vox.max(axis=0) + margin) + 1, lo + 1, object_shape).astype(int)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def blur_to_resolution(
    image: np.ndarray, object_affine: np.ndarray, acquisition: Acquisition, deformation: Deformation
) -> np.ndarray:
    """``image`` smoothed to the acquired voxel size (slice thickness, pixel size) along the object axes."""
    to_voxels = np.linalg.inv(object_affine)[:3, :3] @ deformation.linear[:3, :3]
    extents = np.append(acquisition.spacing_mm[:2], acquisition.slice_thickness_mm)
    sigma = np.zeros(3)
    for k in range(3):
        direction = to_voxels @ (acquisition.affine_lps[:3, k] / np.linalg.norm(acquisition.affine_lps[:3, k]))
        axis = int(np.argmax(np.abs(direction)))
        extent = extents[k] * float(np.abs(direction[axis]))  # in object voxels
        # A box profile of width w has variance w^2 / 12; the object voxel already has width 1.
        sigma[axis] = max(sigma[axis], np.sqrt(max(extent**2 - 1.0, 0.0) / 12.0))
    sigma[sigma < 0.3] = 0.0
    if not sigma.any():
        return image
    return ndimage.gaussian_filter(image, sigma, mode="constant", truncate=3.0)


def bias_field(rng: np.random.Generator, shape: tuple[int, int, int], amplitude: float) -> np.ndarray:
    """A smooth multiplicative coil-sensitivity field 1 + a*g with |g| <= 1 (peak relative amplitude a)."""
    coarse = rng.uniform(-1.0, 1.0, size=(1, 3, 3, 3))
    g = separable_upsample(coarse, shape)[0]
    g /= max(float(np.abs(g).max()), 1e-9)
    return (1.0 + amplitude * g).astype(np.float32)


def rician_noise(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """The magnitude of ``image`` plus complex Gaussian noise of standard deviation ``sigma``."""
    real = rng.standard_normal(image.shape, dtype=np.float32)
    real *= sigma
    real += image
    imag = rng.standard_normal(image.shape, dtype=np.float32)
    imag *= sigma
    return np.hypot(real, imag)


def epi_blur_and_ghost(image: np.ndarray, phase_axis: int, blur_px: float, ghost: float) -> np.ndarray:
    """T2*-decay blur along the phase axis and a Nyquist (N/2) ghost of relative intensity ``ghost``."""
    if blur_px > 0:
        image = ndimage.gaussian_filter1d(image, blur_px, axis=phase_axis, mode="constant")
    return image + ghost * np.roll(image, image.shape[phase_axis] // 2, axis=phase_axis)


def motion_ghosts(image: np.ndarray, phase_axis: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Motion during the acquisition: k-space lines from shifted positions smear the image along the
    phase-encode axis and replicate it as ghosts there (Zaitsev et al. 2015, JMRI 42:887). Two to four
    ghosts at random offsets with amplitudes ``strength`` / n, over a blur of 0.5-1.5 pixels."""
    smeared = ndimage.gaussian_filter1d(image, float(rng.uniform(0.5, 1.5)), axis=phase_axis, mode="constant")
    ghosts = np.zeros_like(smeared)
    n = image.shape[phase_axis]
    for order in range(1, int(rng.integers(2, 5)) + 1):
        ghosts += (strength / order) * np.roll(smeared, int(rng.integers(n // 8, n - n // 8)), axis=phase_axis)
    return smeared + ghosts


def acquire(
    images: list[np.ndarray],
    object_affine: np.ndarray,
    acquisition: Acquisition,
    deformation: Deformation,
    rng: np.random.Generator,
    *,
    noise_sigmas: list[float],
    bias_amplitude: float,
    epi: EpiDistortion | None = None,
    epi_blur_px: float = 0.0,
    ghost: float = 0.0,
    motion: float = 0.0,
) -> list[np.ndarray]:
    """Image each object contrast in ``images`` through one acquisition (same geometry, coil, distortion).

    Each gets its own Rician noise of the matching ``noise_sigmas``; derived maps (ADC from b0 and
    b1000) are computed by the caller. ``motion`` > 0: ghosts of that relative strength (``motion_ghosts``).
    """
    coords = voxel_coordinates(acquisition, deformation, object_affine, epi)
    bias = bias_field(rng, acquisition.shape, bias_amplitude) if bias_amplitude > 0 else None
    volumes = []
    for image, sigma in zip(images, noise_sigmas, strict=True):
        blurred = blur_to_resolution(image, object_affine, acquisition, deformation)
        volume = ndimage.map_coordinates(blurred, coords, order=1, mode="constant", cval=0.0, prefilter=False)
        if bias is not None:
            volume *= bias
        if epi_blur_px > 0 or ghost > 0:
            volume = epi_blur_and_ghost(volume, acquisition.phase_axis, epi_blur_px, ghost)
        if motion > 0:
            volume = motion_ghosts(volume, acquisition.phase_axis, motion, rng)
        volumes.append(rician_noise(rng, volume, sigma))
    return volumes


def vendor_intensity_scale(rng: np.random.Generator, manufacturer: str, volume_max: float) -> float:
    """The factor that maps a volume's maximum into ``manufacturer``'s typical rescaled range."""
    lo, hi = VENDOR_INTENSITY_RANGE[manufacturer]
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) / max(volume_max, 1e-9)
