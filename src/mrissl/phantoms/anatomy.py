"""Head anatomy for the brain phantoms, from nilearn's offline MNI152 (2009) template.

Grey and white matter come from the template's tissue maps and CSF from its brain mask minus
both (sulci, cisterns and ventricles); around the brain a head is built from distances to it:
extra-axial CSF, skull tables and diploic marrow, scalp fat, face and neck muscle, eyes in orbital
fat, air sinuses, airway, spinal cord and vertebrae. Arteries (circle of Willis and branches) and
veins (dural sinuses, deep and cortical veins) are tubes. A susceptibility field map (ppm of B0)
follows from the air/tissue boundaries by the dipole kernel, for T2* dephasing and EPI distortion.

Everything lives on one 2 mm grid in MNI (RAS) millimetres; ``mni_head()`` builds it once per
process. A subject's anatomy is the template seen through ``random_subject_deformation`` (random
affine + smooth elastic field + ventricle size); the scanner samples through it directly, so the
deformed volumes are never materialised. Other cohorts add lesions with ``HeadModel.with_tissue``.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
from scipy import fft, ndimage
from scipy.interpolate import make_interp_spline
from scipy.spatial import cKDTree

from mrissl.phantoms.scanner import Deformation, random_displacement

VOXEL_MM = 2.0
# Head grid in MNI mm (voxel centres), aligned with the 2 mm block average of the 1 mm template.
GRID_LO = np.array([-89.5, -125.5, -121.5])
GRID_SHAPE = (91, 121, 112)
TEMPLATE_LO_1MM = np.array([-98.0, -134.0, -72.0])
TISSUE_CHANNELS = ("csf", "gm", "wm", "artery", "vein", "fat", "muscle", "marrow", "vitreous")
# Distances from the brain surface (mm) of the layers of the cranium, inside out.
SKULL_INNER, DIPLOE_INNER, DIPLOE_OUTER, SKULL_OUTER, SCALP_OUTER = 3.0, 5.0, 9.0, 11.0, 17.0
SUBCUTANEOUS_FAT_MM = 5.0
CHI_TISSUE_PPM = -9.4  # susceptibility of tissue relative to air


@dataclass(frozen=True)
class HeadModel:
    """Tissue fractions on a grid; what is not covered by a channel is air or cortical bone (no signal)."""

    tissues: tuple[str, ...]
    fractions: np.ndarray          # (n_tissues, nx, ny, nz) float32
    affine: np.ndarray             # voxel -> MNI (RAS) mm
    field_ppm: np.ndarray          # B0 offset from susceptibility, ppm (after a 2nd-order shim)
    field_gradient_ppm_per_mm: np.ndarray  # |grad field_ppm|
    iron_r2star_per_t: np.ndarray  # extra R2* (s^-1 per tesla) of iron-rich deep grey matter
    brain_center: np.ndarray       # MNI mm

    def signal_image(self, signals: dict[str, float]) -> np.ndarray:
        """sum_t fraction_t x signal_t: the noise-free object for one contrast."""
        weights = np.array([signals[t] for t in self.tissues], dtype=np.float32)
        return np.einsum("t,t...->...", weights, self.fractions)

    def with_tissue(self, name: str, fraction: np.ndarray) -> HeadModel:
        """A copy with tissue ``name`` occupying ``fraction`` of each voxel, displacing the others."""
        fraction = np.clip(fraction, 0.0, 1.0).astype(np.float32)
        kept = self.fractions * (1.0 - fraction)[None]
        if name in self.tissues:
            kept[self.tissues.index(name)] += fraction
            return dataclasses.replace(self, fractions=kept)
        return dataclasses.replace(self, tissues=(*self.tissues, name),
                                   fractions=np.concatenate([kept, fraction[None]]))

    def cropped(self, region: tuple[slice, slice, slice]) -> HeadModel:
        """The voxels in ``region`` (views, no copy), with the affine of the sub-grid."""
        affine = self.affine.copy()
        affine[:3, 3] = self.affine[:3, :3] @ [r.start for r in region] + self.affine[:3, 3]
        return dataclasses.replace(
            self, fractions=self.fractions[(slice(None), *region)], affine=affine,
            field_ppm=self.field_ppm[region], field_gradient_ppm_per_mm=self.field_gradient_ppm_per_mm[region],
            iron_r2star_per_t=self.iron_r2star_per_t[region],
        )

    def block_averaged(self, factor: int) -> HeadModel:
        """The same head on a grid ``factor`` times coarser (for low-resolution acquisitions)."""
        def average(volume: np.ndarray) -> np.ndarray:
            pad = [(0, 0)] * (volume.ndim - 3) + [(0, (-n) % factor) for n in volume.shape[-3:]]
            padded = np.pad(volume, pad)
            blocks = [s for n in padded.shape[-3:] for s in (n // factor, factor)]
            return padded.reshape(*padded.shape[:-3], *blocks).mean(axis=(-5, -3, -1), dtype=np.float32)

        affine = self.affine.copy()
        affine[:3, :3] *= factor
        affine[:3, 3] += self.affine[:3, :3] @ np.full(3, (factor - 1) / 2.0)
        return dataclasses.replace(
            self, fractions=np.ascontiguousarray(average(self.fractions)), affine=affine,
            field_ppm=average(self.field_ppm), field_gradient_ppm_per_mm=average(self.field_gradient_ppm_per_mm),
            iron_r2star_per_t=average(self.iron_r2star_per_t),
        )

    @property
    def bounds_mm(self) -> tuple[np.ndarray, np.ndarray]:
        corner = np.array(self.fractions.shape[1:]) - 1.0
        return self.affine[:3, 3], self.affine[:3, :3] @ corner + self.affine[:3, 3]


def grid_affine() -> np.ndarray:
    affine = np.diag([VOXEL_MM, VOXEL_MM, VOXEL_MM, 1.0])
    affine[:3, 3] = GRID_LO
    return affine


def grid_points() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcastable x, y, z MNI mm of the head grid's voxel centres."""
    axes = [GRID_LO[d] + VOXEL_MM * np.arange(GRID_SHAPE[d], dtype=np.float32) for d in range(3)]
    return axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]


def _block_mean_2mm(volume: np.ndarray) -> np.ndarray:
    padded = np.pad(volume, [(0, n % 2) for n in volume.shape])
    nx, ny, nz = (n // 2 for n in padded.shape)
    return padded.reshape(nx, 2, ny, 2, nz, 2).mean(axis=(1, 3, 5), dtype=np.float32)


def _embed(volume_2mm: np.ndarray) -> np.ndarray:
    """Place a 2 mm block-averaged template volume onto the head grid (zero padding, cropping)."""
    template_lo = TEMPLATE_LO_1MM + 0.5
    offset = np.round((GRID_LO - template_lo) / VOXEL_MM).astype(int)  # head index 0 = template index offset
    out = np.zeros(GRID_SHAPE, np.float32)
    src, dst = [], []
    for d in range(3):
        start = max(0, -offset[d])
        stop = min(GRID_SHAPE[d], volume_2mm.shape[d] - offset[d])
        dst.append(slice(start, stop))
        src.append(slice(start + offset[d], stop + offset[d]))
    out[tuple(dst)] = volume_2mm[tuple(src)]
    return out


@functools.lru_cache(maxsize=1)
def mni_tissue_maps() -> dict[str, np.ndarray]:
    """GM, WM and brain mask of nilearn's MNI152 template, block-averaged to 2 mm on the head grid."""
    from nilearn import datasets  # imported here: nilearn is slow to import and only needed once

    maps = {
        "gm": datasets.load_mni152_gm_template(resolution=1),
        "wm": datasets.load_mni152_wm_template(resolution=1),
        "mask": datasets.load_mni152_brain_mask(resolution=1),
    }
    out = {}
    for name, img in maps.items():
        if not np.allclose(img.affine[:3, 3], TEMPLATE_LO_1MM) or not np.allclose(np.diag(img.affine)[:3], 1.0):
            raise RuntimeError(
                f"nilearn's MNI152 {name} map has an unexpected affine {img.affine.tolist()}; "
                "mrissl.phantoms.anatomy expects the 1 mm 2009 template of nilearn 0.13"
            )
        out[name] = _embed(_block_mean_2mm(img.get_fdata(dtype=np.float32)))
    mask = out["mask"]
    out["gm"] = np.minimum(out["gm"], mask)
    out["wm"] = np.minimum(out["wm"], mask - out["gm"])
    return out


def _soft_step(distance: np.ndarray, edge: float) -> np.ndarray:
    """0 below ``edge`` mm, 1 above, a one-voxel linear ramp between (partial volume)."""
    return np.clip((distance - edge) / VOXEL_MM + 0.5, 0.0, 1.0)


def _ellipsoid(center, radii) -> np.ndarray:
    """Soft inside-fraction of an ellipsoid (MNI mm)."""
    x, y, z = grid_points()
    r = np.sqrt(sum(((a - c) / radius) ** 2 for a, c, radius in zip((x, y, z), center, radii)))
    return 1.0 - _soft_step((r - 1.0) * min(radii), 0.0)


def _smooth_curve(points: np.ndarray, step_mm: float = 0.7) -> np.ndarray:
    """A cubic spline through control ``points``, sampled every ``step_mm``."""
    points = np.asarray(points, float)
    chord = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    spline = make_interp_spline(chord, points, k=min(3, len(points) - 1))
    return spline(np.linspace(0.0, chord[-1], max(2, int(chord[-1] / step_mm) + 1)))


def _surface_point(mask: np.ndarray, origin, direction, offset_mm: float) -> np.ndarray:
    """The last point inside ``mask`` on the ray from ``origin`` along ``direction``, moved out by ``offset_mm``."""
    direction = np.asarray(direction, float) / np.linalg.norm(direction)
    steps = np.arange(0.0, 160.0, 1.0)
    points = np.asarray(origin, float)[None] + steps[:, None] * direction[None]
    vox = ((points - GRID_LO) / VOXEL_MM).T
    inside = ndimage.map_coordinates(mask, vox, order=1, mode="constant") > 0.5
    last = steps[np.flatnonzero(inside)[-1]] if inside.any() else 0.0
    return np.asarray(origin, float) + (last + offset_mm) * direction


def _artery_paths(rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
    """Control polylines (MNI mm) and radii (mm) of the main intracranial arteries and branches."""
    paths = [
        ([(0, -31, -50), (0, -24, -40), (0, -18, -30), (0, -14, -20)], 1.5),  # basilar
    ]
    for s in (-1, 1):
        ica_top = (s * 14, 2, -20)
        mca_end = (s * 40, 4, -6)
        aca = [ica_top, (s * 8, 10, -15), (s * 3, 18, -10), (s * 2, 32, 0), (s * 2, 37, 15), (s * 2, 28, 32),
               (s * 2, 8, 40), (s * 2, -20, 44), (s * 2, -45, 38)]
        pca = [(0, -14, -20), (s * 8, -16, -17), (s * 18, -24, -12), (s * 26, -42, -6), (s * 22, -66, 2),
               (s * 14, -86, 6)]
        paths += [
            ([(s * 22, 10, -121), (s * 22, 9, -90), (s * 20, 6, -66), (s * 17, 4, -46), (s * 15, 12, -36),
              (s * 17, 8, -28), ica_top], 2.3),  # internal carotid
            ([(s * 20, -22, -121), (s * 22, -28, -90), (s * 12, -38, -70), (s * 5, -36, -58), (0, -31, -50)],
             1.6),  # vertebral
            ([ica_top, (s * 25, 4, -16), (s * 35, 6, -12), mca_end], 1.4),  # MCA M1
            ([mca_end, (s * 42, 0, 8), (s * 46, -10, 22), (s * 50, -25, 36)], 1.0),  # M2 superior
            ([mca_end, (s * 46, -8, -2), (s * 53, -25, 0), (s * 56, -45, 6)], 1.0),  # M2 inferior
            ([mca_end, (s * 43, 20, 5), (s * 44, 36, 20)], 0.8),  # frontal branch
            (aca, 1.1),
            (pca, 1.0),
            ([ica_top, (s * 12, -6, -18), (s * 8, -16, -17)], 0.7),  # posterior communicating
            ([(0, -16, -24), (s * 10, -22, -24), (s * 18, -42, -22), (s * 14, -62, -24)], 0.7),  # superior cerebellar
        ]
        # Cortical branches from the distal ends: short random walks outwards (fixed for the template).
        for end in [(s * 50, -25, 36), (s * 56, -45, 6), (s * 44, 36, 20), aca[-1], aca[-3], pca[-1], pca[-2]]:
            for _ in range(3):
                walk = [np.array(end, float)]
                heading = walk[0] - np.array([0.0, -18.0, 10.0])
                heading /= np.linalg.norm(heading)
                for _ in range(4):
                    heading = heading + rng.normal(0, 0.45, 3)
                    heading /= np.linalg.norm(heading)
                    walk.append(walk[-1] + 9.0 * heading)
                paths.append((np.array(walk), 0.6))
    return [(np.asarray(p, float), r) for p, r in paths]


def _vein_paths(mask: np.ndarray, rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
    """Dural sinuses follow the brain surface; deep and cortical veins drain into them."""
    center = np.array([0.0, -18.0, 15.0])
    sss = [_surface_point(mask, center, (0, np.cos(a), np.sin(a)), 4.0) for a in np.radians(np.arange(25, 200, 12))]
    torcula = sss[-1]
    paths = [(np.array(sss), 3.5), ([(0, -38, 5), (0, -60, 5), (0, -80, 0), torcula], 2.5)]  # SSS, straight sinus
    for s in (-1, 1):
        transverse = [_surface_point(mask, (0, -45, -12), (s * np.sin(a), -np.cos(a), -0.15), 3.0)
                      for a in np.radians([10, 30, 50, 70])]
        sigmoid = [(s * 46, -34, -34), (s * 38, -28, -50), (s * 30, -24, -68), (s * 28, -14, -121)]
        paths.append((np.array([torcula, *transverse, *sigmoid]), 3.5))
        paths.append(([(s * 3, -4, 15), (s * 3, -20, 13), (s * 2, -32, 8), (0, -38, 5)], 1.2))  # internal cerebral
        for _ in range(6):  # superficial cortical veins draining into the SSS
            angle = np.radians(rng.uniform(20, 160))
            lateral = np.radians(rng.uniform(35, 70))
            direction = (s * np.sin(lateral), np.cos(angle) * np.cos(lateral), np.sin(angle) * np.cos(lateral) + 0.3)
            start = _surface_point(mask, center, direction, 2.0)
            end = sss[int(np.argmin([np.linalg.norm(p - start) for p in sss]))]
            mid = (start + end) / 2 + np.array([0.0, 0.0, 6.0])
            paths.append((np.array([start, mid, end]), 1.0))
    return [(np.asarray(p, float), r) for p, r in paths]


def _rasterise_tubes(paths: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """Partial-volume fraction of tubes of the given radii around smooth curves through the paths."""
    curves = [_smooth_curve(p) for p, _ in paths]
    centre = np.concatenate(curves)
    radius = np.concatenate([np.full(len(c), r) for c, (_, r) in zip(curves, paths)])
    near = np.zeros(GRID_SHAPE, bool)
    index = np.round((centre - GRID_LO) / VOXEL_MM).astype(int)
    keep = np.all((index >= 0) & (index < np.array(GRID_SHAPE)), axis=1)
    near[tuple(index[keep].T)] = True
    near = ndimage.binary_dilation(near, iterations=int(np.ceil(radius.max() / VOXEL_MM)) + 1)
    voxels = np.argwhere(near)
    distance, nearest = cKDTree(centre).query(voxels * VOXEL_MM + GRID_LO)
    r = radius[nearest]
    # Thin vessels fill at most their cross-section's share of a voxel.
    peak = np.minimum(1.0, np.pi * r**2 / VOXEL_MM**2)
    fraction = np.zeros(GRID_SHAPE, np.float32)
    fraction[tuple(voxels.T)] = peak * _soft_step(np.maximum(r, VOXEL_MM / 2) - distance, 0.0)
    return fraction


# Iron-rich deep grey nuclei (MNI centre, radii mm, extra R2* in s^-1 per tesla): dark on T2*/SWI,
# the pallidum also on T2 at 3 T (Haacke 2005; Langkammer 2010 for the ordering).
IRON_NUCLEI = [
    ((19, -3, 0), (5, 9, 5), 15.0),      # globus pallidus
    ((26, 2, 2), (6, 14, 9), 5.0),       # putamen
    ((13, 12, 10), (5, 8, 8), 3.0),      # caudate head
    ((11, -18, 6), (8, 11, 7), 2.0),     # thalamus
    ((5, -20, -8), (3, 4, 3), 12.0),     # red nucleus
    ((10, -17, -12), (3, 7, 3), 14.0),   # substantia nigra
    ((14, -56, -34), (6, 7, 5), 10.0),   # dentate nucleus
]


def _iron_map(brain: np.ndarray) -> np.ndarray:
    iron = np.zeros(GRID_SHAPE, np.float32)
    for (x, y, z), radii, r2star in IRON_NUCLEI:
        for side in (-1, 1):
            iron = np.maximum(iron, r2star * _ellipsoid((side * x, y, z), radii))
    return iron * brain


def _susceptibility_field(tissue_fraction: np.ndarray, brain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """B0 offset (ppm) of the head's susceptibility distribution, shimmed to 2nd order over the brain.

    Computed on a 4 mm grid with the dipole kernel 1/3 - kz^2/k^2 (B0 along z), then upsampled.
    """
    coarse = _block_mean_2mm(tissue_fraction) * CHI_TISSUE_PPM
    pad = 16
    chi = np.pad(coarse, pad)
    k = np.meshgrid(*[fft.fftfreq(n) for n in chi.shape[:2]], fft.rfftfreq(chi.shape[2]), indexing="ij")
    k2 = k[0] ** 2 + k[1] ** 2 + k[2] ** 2
    kernel = np.where(k2 > 0, 1.0 / 3.0 - k[2] ** 2 / np.where(k2 > 0, k2, 1.0), 0.0)
    field = fft.irfftn(fft.rfftn(chi) * kernel, s=chi.shape)[pad:-pad, pad:-pad, pad:-pad]
    field = ndimage.zoom(field, [g / c for g, c in zip(GRID_SHAPE, field.shape)], order=1).astype(np.float32)
    # Second-order shim over the brain: least-squares fit of 1, x, y, z, x^2, ... removed.
    x, y, z = (np.broadcast_to(a, GRID_SHAPE) / 100.0 for a in grid_points())
    inside = brain > 0.5
    terms = (x, y, z, x * x, y * y, z * z, x * y, x * z, y * z)
    basis = np.stack([np.ones(inside.sum()), *(a[inside] for a in terms)], 1)
    coef, *_ = np.linalg.lstsq(basis, field[inside], rcond=None)
    shim = coef[0] + sum(c * a for c, a in zip(coef[1:], terms))
    field = (field - shim).astype(np.float32)
    gradient = np.sqrt(sum(g**2 for g in np.gradient(field, VOXEL_MM))).astype(np.float32)
    return field, gradient


@functools.lru_cache(maxsize=1)
def mni_head() -> HeadModel:
    """The template head (built once per process, about a second)."""
    maps = mni_tissue_maps()
    gm, wm, mask = maps["gm"], maps["wm"], maps["mask"]
    x, y, z = grid_points()
    rng = np.random.default_rng(0)  # fixed: the template's small vessels are part of the template

    # Spinal cord continuing the medulla below the template, in a CSF sleeve.
    cord_y = -45.0 + 0.12 * np.maximum(-72.0 - z, 0.0)  # the cervical cord runs slightly forwards
    cord_r = np.sqrt(x**2 + (y - cord_y) ** 2)
    below = (z < -71.0).astype(np.float32)
    cord = below * (1.0 - _soft_step(cord_r, 5.0))
    sleeve = below * (1.0 - _soft_step(cord_r, 8.0)) - cord
    wm = wm + cord
    neural = np.clip(mask + cord + sleeve, 0.0, 1.0)
    csf = np.clip(neural - gm - wm, 0.0, 1.0)

    outside = ndimage.distance_transform_edt(neural < 0.5, sampling=VOXEL_MM).astype(np.float32)
    # Head outline: cranium around the brain, face and neck, smoothed.
    face = _ellipsoid((0, 38, -68), (60, 58, 58))
    neck = ((x / 48.0) ** 2 + ((y + 15.0) / 52.0) ** 2 < 1.0) & (z < -55.0)
    head = np.maximum.reduce([(outside <= SCALP_OUTER).astype(np.float32), face, neck.astype(np.float32)])
    head = np.clip(ndimage.gaussian_filter(head, 1.5) * 2.0 - 0.5, 0.0, 1.0)
    depth = ndimage.distance_transform_edt(head > 0.5, sampling=VOXEL_MM).astype(np.float32)

    # Non-neural space, inside out: extra-axial CSF, bone, diploe, bone, soft tissue.
    free = 1.0 - neural
    extra_csf = free * (1.0 - _soft_step(outside, SKULL_INNER))
    diploe = _soft_step(outside, DIPLOE_INNER) - _soft_step(outside, DIPLOE_OUTER)
    soft = _soft_step(outside, SKULL_OUTER) * head
    fat = soft * (1.0 - _soft_step(depth, SUBCUTANEOUS_FAT_MM))
    muscle = soft - fat
    marrow = diploe * head

    # Vertebral bodies in front of the cord, airway in front of them; eyes in orbital fat; sinuses.
    vertebrae = below * (1.0 - _soft_step(np.sqrt(x**2 + (y - cord_y - 22.0) ** 2), 9.0)) * (z < -78)
    airway = (z < -72) * (1.0 - _soft_step(np.sqrt((x / 1.4) ** 2 + (y - cord_y - 45.0) ** 2), 8.0))
    eyes = np.maximum(_ellipsoid((-32, 58, -36), (12, 12, 12)), _ellipsoid((32, 58, -36), (12, 12, 12)))
    orbit = np.maximum(_ellipsoid((-30, 48, -36), (17, 20, 16)), _ellipsoid((30, 48, -36), (17, 20, 16)))
    sinuses = np.maximum.reduce([
        _ellipsoid((0, 62, 12), (14, 6, 9)),            # frontal
        _ellipsoid((0, 10, -48), (12, 12, 9)),          # sphenoid
        _ellipsoid((-28, 42, -70), (13, 15, 16)),       # maxillary
        _ellipsoid((28, 42, -70), (13, 15, 16)),
        _ellipsoid((0, 58, -64), (7, 24, 18)),          # nasal cavity
        _ellipsoid((-55, -30, -46), (9, 10, 9)),        # mastoid air cells
        _ellipsoid((55, -30, -46), (9, 10, 9)),
        airway,
    ])
    non_brain = _soft_step(outside, SKULL_INNER)  # nothing below enters the brain or its CSF
    sinuses = sinuses * non_brain
    eyes = eyes * non_brain
    orbit = np.clip(orbit * non_brain - eyes, 0.0, 1.0)
    marrow = np.maximum(marrow, vertebrae * non_brain)
    # Special structures replace what the layers put there.
    keep = np.clip(1.0 - eyes - orbit - sinuses, 0.0, 1.0)
    fat = np.maximum(fat * keep, orbit)
    muscle = muscle * keep
    marrow = marrow * keep

    arteries = _rasterise_tubes(_artery_paths(rng))
    veins = np.clip(_rasterise_tubes(_vein_paths(mask, rng)) - arteries, 0.0, 1.0)
    channels = {"csf": csf + extra_csf, "gm": gm, "wm": wm, "fat": fat, "muscle": muscle, "marrow": marrow,
                "vitreous": eyes}
    vessel = arteries + veins
    for name in channels:
        channels[name] = channels[name] * (1.0 - vessel)
    channels["artery"], channels["vein"] = arteries, veins
    fractions = np.stack([channels[t] for t in TISSUE_CHANNELS]).astype(np.float32)
    total = fractions.sum(axis=0)
    fractions /= np.maximum(total, 1.0)[None]

    tissue_present = np.clip(head - sinuses, 0.0, 1.0)
    field, gradient = _susceptibility_field(tissue_present, mask)
    center = np.array([float((a * mask).sum() / mask.sum()) for a in np.broadcast_arrays(x, y, z)])
    return HeadModel(TISSUE_CHANNELS, np.ascontiguousarray(fractions), grid_affine(), field, gradient,
                     _iron_map(mask), center)


@functools.lru_cache(maxsize=1)
def coarse_mni_head() -> HeadModel:
    """The template head on a 4 mm grid, for low-resolution acquisitions (cheaper to render)."""
    return mni_head().block_averaged(2)


def mni_brain_mask(coarse: bool = False) -> np.ndarray:
    """The template's brain mask (parenchyma, ventricles, sulcal CSF) on the grid of ``mni_head()``,
    or of ``coarse_mni_head()`` when ``coarse`` (block-averaged the same way): fractions in [0, 1]."""
    mask = mni_tissue_maps()["mask"]
    return _block_mean_2mm(mask) if coarse else mask


def ventricle_pull(rng: np.random.Generator, age_years: float | None) -> float:
    """The radial pull about the ventricles' centre: < 0 enlarges them. Without an age, anything from
    small to large; with one, larger with age (ventricular volume roughly doubles from 30 to 80 years,
    e.g. Fjell et al. 2009, Cereb Cortex 19:2001)."""
    if age_years is None:
        return float(rng.uniform(-0.35, 0.08))
    ageing = float(np.clip((age_years - 30.0) / 50.0, 0.0, 1.0))
    return float(np.clip(0.02 - 0.35 * ageing + rng.normal(0.0, 0.06), -0.45, 0.1))


def random_subject_deformation(rng: np.random.Generator, head: HeadModel, age_years: float | None = None) -> Deformation:
    """A subject's head as a deformation of the template: subject mm -> template mm.

    Random size and shape (scale ~ N(1, 0.06) per axis, small shears, about the brain centre), a
    smooth elastic field (rms 2.5 mm, correlation ~3 cm) and ventricle size (``ventricle_pull``).
    """
    linear = np.eye(4)
    a = np.diag(1.0 / np.clip(rng.normal(1.0, 0.06, 3), 0.85, 1.15)) + rng.normal(0.0, 0.03, (3, 3)) * (1 - np.eye(3))
    linear[:3, :3] = a
    linear[:3, 3] = head.brain_center - a @ head.brain_center
    lo, hi = head.bounds_mm
    field, affine = random_displacement(rng, lo, hi, spacing_mm=12.0, rms_mm=2.5)
    # Ventricles: a radial pull about their centre enlarges them (alpha < 0) or shrinks them.
    ventricles = np.array([0.0, -12.0, 14.0])
    alpha = ventricle_pull(rng, age_years)
    nodes = np.stack(np.meshgrid(*[lo[d] + 12.0 * np.arange(field.shape[d + 1]) for d in range(3)], indexing="ij"))
    offset = nodes - ventricles[:, None, None, None]
    field += alpha * offset * np.exp(-(offset**2).sum(axis=0) / (2 * 22.0**2))[None]
    return Deformation(linear, field, affine)
