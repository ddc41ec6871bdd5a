"""Co-registration of DWI b1000 and T2* to FLAIR, stacked as one 3-channel volume per study (paper 003, 2.1).

Per study the T2* and DWI series are registered rigidly to the FLAIR with SimpleITK: Mattes
mutual information on a random sample of voxels, an Euler3D transform centred on the FLAIR
(``CenteredTransformInitializer``) and started at the identity (the series share the scanner's
coordinates, so they are off only by the head's motion between them; a moments start adds the
differences of field-of-view coverage), regular-step gradient descent over a multi-resolution
pyramid. All three are then resampled (anti-aliased by a Gaussian of the missing resolution)
onto one axial grid of ``volume_shape`` voxels of ``voxel_mm`` (paper: 112 x 112 x 16) centred on
the FLAIR's head, and scaled so each channel's 99th percentile is 1.

With ITK's precomputed image gradients (a recursive Gaussian over each whole image) the optimiser
climbed the metric on these thick-slice series (T2* especially) and ended millimetres off; the
metric takes central differences at each sample instead. ITK filters run on one thread each (a multi-threaded metric
sums in a varying order and moves the result in the ninth digit) with a fixed sampling seed, so the
same inputs give the same transform; studies run side by side in threads (SimpleITK releases the GIL).

Quality control per study and moving sequence: normalised mutual information with the FLAIR on
the output grid inside the head, before (scanner coordinates only) and after registration, and,
where the true motion is known (the phantom's ``motion.tsv``), the mean and maximum distance in mm
between the true and the recovered map over the head: the residual registration error.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy.spatial.transform import Rotation
from sklearn.metrics import normalized_mutual_info_score

from mrissl.clip import CHANNELS, FIXED, MOVING
from mrissl.config import config_from_section

log = logging.getLogger(__name__)

QC_COLUMNS = [
    "study_key", "patient_key", "sequence", "nmi_before", "nmi_after", "error_before_mm", "error_after_mm",
    "max_error_after_mm", "rotation_deg", "translation_mm", "iterations",
]
NMI_BINS = 32
QC_POINTS_STEP = 4  # every 4th head voxel of the output grid (in each axis) enters the error


@dataclass(frozen=True)
class RegistrationSettings:
    """``clip.registration`` of the config."""

    histogram_bins: int = 32
    sampling_fraction: float = 0.1
    shrink_factors: tuple[int, ...] = (4, 2, 1)
    smoothing_mm: tuple[float, ...] = (3.0, 1.0, 0.0)
    iterations: int = 40
    seed: int = 0

    @classmethod
    def from_config(cls, section: dict, seed: int) -> RegistrationSettings:
        return config_from_section(cls, section, "clip.registration", seed=seed)

    def __post_init__(self):
        if len(self.shrink_factors) != len(self.smoothing_mm):
            raise ValueError(f"clip.registration: shrink_factors {self.shrink_factors} and smoothing_mm "
                             f"{self.smoothing_mm} need one entry per pyramid level each")


@dataclass(frozen=True)
class OutputGrid:
    """The axial output grid (scanner LPS axes) the stacked volume is resampled onto."""

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]

    def centred_on(self, center_lps: np.ndarray) -> sitk.Image:
        reference = sitk.Image([int(n) for n in self.shape], sitk.sitkFloat32)
        reference.SetSpacing([float(s) for s in self.spacing_mm])
        half_extent = np.multiply(self.spacing_mm, np.subtract(self.shape, 1)) / 2
        reference.SetOrigin((np.asarray(center_lps) - half_extent).tolist())
        return reference


def head_mask(image: sitk.Image) -> sitk.Image:
    """The head: Otsu foreground with its holes filled, dilated by a voxel in-plane."""
    mask = sitk.OtsuThreshold(image, 0, 1)
    mask = sitk.BinaryFillhole(mask)
    return sitk.BinaryDilate(mask, [1, 1, 0])


def rigid_register(fixed: sitk.Image, moving: sitk.Image, settings: RegistrationSettings
                   ) -> tuple[sitk.Euler3DTransform, int]:
    """The rigid map of fixed physical points to moving ones maximising Mattes mutual information,
    and the optimiser's iterations at the last level."""
    initial = sitk.CenteredTransformInitializer(
        fixed, moving, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.GEOMETRY
    )
    initial.SetTranslation((0.0, 0.0, 0.0))  # the scanner frame already overlays the series
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(settings.histogram_bins)
    method.MetricUseFixedImageGradientFilterOff()
    method.MetricUseMovingImageGradientFilterOff()
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(settings.sampling_fraction, settings.seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=0.01, numberOfIterations=settings.iterations, relaxationFactor=0.8,
        gradientMagnitudeTolerance=1e-6,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(settings.shrink_factors))
    method.SetSmoothingSigmasPerLevel(list(settings.smoothing_mm))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(initial, inPlace=True)
    method.Execute(fixed, moving)
    return initial, int(method.GetOptimizerIteration())


def anti_aliased(image: sitk.Image, spacing_mm: tuple[float, float, float]) -> sitk.Image:
    """``image`` smoothed to the resolution of an axial grid of ``spacing_mm`` before resampling onto it.

    Along each image axis, a Gaussian of FWHM sqrt(target^2 - own^2) makes up the resolution the
    coarser grid loses (the target: the grid spacing along the closest grid axis).
    """
    direction = np.array(image.GetDirection()).reshape(3, 3)
    target = np.array(spacing_mm)[np.argmax(np.abs(direction), axis=0)]
    own = np.array(image.GetSpacing())
    sigma = np.sqrt(np.maximum(target**2 - own**2, 0.0)) / 2.355
    if sigma.max() == 0:
        return image
    return sitk.SmoothingRecursiveGaussian(image, np.maximum(sigma, 1e-3 * own).tolist())


def resample_onto(image: sitk.Image, reference: sitk.Image, transform: sitk.Transform) -> np.ndarray:
    """``image`` on the reference grid through ``transform`` (linear), as an (x, y, z) array."""
    resampled = sitk.Resample(image, reference, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(resampled).transpose(2, 1, 0)


def normalised_mutual_information(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """NMI (arithmetic normalisation, 0..1) of two intensity images inside ``mask``, 32 equal bins each."""
    def bins(x: np.ndarray) -> np.ndarray:
        values = x[mask]
        edges = np.linspace(values.min(), values.max() + 1e-6, NMI_BINS + 1)
        return np.digitize(values, edges[1:-1])
    return float(normalized_mutual_info_score(bins(a), bins(b)))


def _rigid_parameters(transform: sitk.Euler3DTransform, center: np.ndarray) -> tuple[float, float]:
    """Rotation angle (deg) and the displacement of ``center`` (mm) of a rigid transform."""
    matrix = np.array(transform.GetMatrix()).reshape(3, 3)
    angle = float(np.degrees(Rotation.from_matrix(matrix).magnitude()))
    return angle, float(np.linalg.norm(np.array(transform.TransformPoint(center.tolist())) - center))


def _scaled(volume: np.ndarray) -> np.ndarray:
    """``volume`` divided by the 99th percentile of its positive voxels (1 if there are none)."""
    positive = volume[volume > 0]
    top = float(np.percentile(positive, 99.0)) if positive.size else 1.0
    return (volume / max(top, 1e-6)).astype(np.float32)


def register_study(
    paths: dict[str, str], grid: OutputGrid, settings: RegistrationSettings,
    truth: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """One study: (stacked volume after, stacked volume before registration, QC rows per moving sequence).

    ``paths`` maps each of ``CHANNELS`` to its NIfTI; ``truth`` (optional) maps each moving
    sequence to the true 4x4 map of FLAIR scanner LPS mm to that series' scanner LPS mm.
    Volumes are (channel, x, y, z) with channels in ``CHANNELS`` order.
    """
    images = {name: sitk.ReadImage(paths[name], sitk.sitkFloat32) for name in CHANNELS}
    fixed = images[FIXED]
    mask = head_mask(fixed)
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(mask)
    center = np.array(stats.GetCentroid(1))
    reference = grid.centred_on(center)
    identity = sitk.Euler3DTransform()
    identity.SetCenter(center.tolist())
    transforms = {FIXED: identity}
    rows = []
    for name in MOVING:
        transform, iterations = rigid_register(fixed, images[name], settings)
        transforms[name] = transform
        rotation, translation = _rigid_parameters(transform, center)
        rows.append({"sequence": name, "rotation_deg": rotation, "translation_mm": translation,
                     "iterations": iterations})
    smooth = {n: anti_aliased(images[n], grid.spacing_mm) for n in CHANNELS}
    after = np.stack([_scaled(resample_onto(smooth[n], reference, transforms[n])) for n in CHANNELS])
    before = np.stack([_scaled(resample_onto(smooth[n], reference, identity)) for n in CHANNELS])
    # QC on the output grid, inside the FLAIR's head.
    fixed_on_grid = after[CHANNELS.index(FIXED)]
    inside = resample_onto(sitk.Cast(mask, sitk.sitkFloat32), reference, identity) > 0.5
    points = _grid_points(reference, inside)
    for row in rows:
        c = CHANNELS.index(row["sequence"])
        row["nmi_before"] = normalised_mutual_information(fixed_on_grid, before[c], inside)
        row["nmi_after"] = normalised_mutual_information(fixed_on_grid, after[c], inside)
        if truth is not None and row["sequence"] in truth:
            true = points @ truth[row["sequence"]][:3, :3].T + truth[row["sequence"]][:3, 3]
            found = np.array([transforms[row["sequence"]].TransformPoint(p) for p in points.tolist()])
            row["error_before_mm"] = float(np.linalg.norm(points - true, axis=1).mean())
            errors = np.linalg.norm(found - true, axis=1)
            row["error_after_mm"], row["max_error_after_mm"] = float(errors.mean()), float(errors.max())
    return after, before, rows


def _grid_points(reference: sitk.Image, inside: np.ndarray) -> np.ndarray:
    """LPS mm of every ``QC_POINTS_STEP``-th voxel of ``reference`` that lies inside the head."""
    index = np.argwhere(inside[::QC_POINTS_STEP, ::QC_POINTS_STEP, ::QC_POINTS_STEP]) * QC_POINTS_STEP
    spacing, origin = np.array(reference.GetSpacing()), np.array(reference.GetOrigin())
    return origin + index * spacing  # the reference grid has the identity direction


def _register_one(args):
    study_key, paths, grid, settings, truth = args
    started = time.thread_time()
    after, before, rows = register_study(paths, grid, settings, truth)
    return study_key, after, before, rows, time.thread_time() - started


def register_studies(
    studies: pd.DataFrame, grid: OutputGrid, settings: RegistrationSettings, array_path: Path,
    truth: dict[tuple[str, str], np.ndarray] | None = None, *, workers: int = 1, preview_studies: int = 0,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Register every study of ``studies`` and write the stacked volumes to ``array_path`` (.npy).

    ``studies`` has one row per study: ``study_key``, ``patient_key`` and one NIfTI path column
    per channel (``path_<channel>``); the volumes are written in its row order, shape
    (n, channels, *grid.shape), float32, so the array memory-maps. ``truth`` maps (study_key,
    sequence) to the true motion. Returns the QC table (``QC_COLUMNS``) and a preview: the before
    and after volumes of the ``preview_studies`` studies whose alignment improved most.
    """
    array_path = Path(array_path)
    array_path.parent.mkdir(parents=True, exist_ok=True)
    volumes = np.lib.format.open_memmap(
        array_path, mode="w+", dtype=np.float32, shape=(len(studies), len(CHANNELS), *grid.shape)
    )
    jobs = [
        (row.study_key, {c: getattr(row, f"path_{c}") for c in CHANNELS}, grid, settings,
         {s: truth[(row.study_key, s)] for s in MOVING if (row.study_key, s) in truth} if truth else None)
        for row in studies.itertuples()
    ]
    qc_rows, best = [], []  # best: (NMI gain, -n, study_key, before) of the preview candidates
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for n, (study_key, after, before, rows, seconds) in enumerate(pool.map(_register_one, jobs)):
                volumes[n] = after
                qc_rows += [{"study_key": study_key, "patient_key": studies["patient_key"].iloc[n], **r}
                            for r in rows]
                gain = sum(r["nmi_after"] - r["nmi_before"] for r in rows)
                best = sorted([*best, (gain, -n, study_key, before)], key=lambda b: b[:2],
                              reverse=True)[:preview_studies]
                log.info("registered %d/%d (%.2f s of CPU)", n + 1, len(jobs), seconds)
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    volumes.flush()
    preview = {}
    for _, minus_n, study_key, before in best:
        preview[f"{study_key}_before"], preview[f"{study_key}_after"] = before, np.asarray(volumes[-minus_n])
    return pd.DataFrame(qc_rows).reindex(columns=QC_COLUMNS), preview
