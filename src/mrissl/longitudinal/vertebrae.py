"""Vertebral body (VB) and intervertebral disc (IVD) volumes for the longitudinal study (paper 002, 2.1).

For each sagittal T2 scan and its mask (SPIDER's labels, ``mrissl.readers.spider``), each of the 7
VBs (T12 to S1) and 6 IVDs (T12-L1 to L5-S1) becomes one volume of ``(rows, cols, 9)``:

1. the volume is reoriented to canonical RAS (nibabel), so axis 0 runs left->right (the slices of a
   sagittal scan), 1 posterior->anterior, 2 inferior->superior;
2. the structure's mid-sagittal slice is the rounded mean of its voxels' slice positions (each
   structure its own, so a scoliotic spine stays centred); the crop is centred, in that slice, on
   the structure's centroid;
3. the crop is rescaled by the structure's width: its columns span ``CONTEXT`` times the
   structure's extent on its mid slice along its own antero-posterior axis (``structure_width``:
   tilt in the lordosis does not widen it), with square pixels, so a VB crop
   (224 x 224 in the paper) is as tall as it is wide and an IVD crop (112 x 224) half as tall;
   rows run superior->inferior and columns anterior->posterior (the usual sagittal display);
4. slices are the scan's own, 4 on either side of the mid slice, zero-padded where the scan has
   fewer ("zero-padded slice-wise if the number of slices is below the predefined 9");
5. intensities are divided by the median of the neighbouring VBs (above and below; T12 and S1
   have one labelled neighbour), times 0.5, so those VBs' median becomes 0.5.

All VBs of all scans go into one memory-mappable ``vb.npy`` (N, rows, cols, slices) float16, the IVDs
into ``ivd.npy``, with one TSV index naming the scan, subject, level and, for graded discs, the grade
of every row. Two passes: the masks first (geometry, counts), then the images one at a time.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from mrissl.manifest import canonical_spacing, load_canonical, read_checked_table, write_table
from mrissl.readers.spider import SPIDER_DISC_LABELS, SPIDER_VERTEBRA_LABELS

VB_LEVELS = ("T12", "L1", "L2", "L3", "L4", "L5", "S1")
IVD_LEVELS = ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
KINDS = ("VB", "IVD")
CONTEXT = 2.0          # crop width / structure width
MEDIAN_TARGET = 0.5    # the neighbouring VBs' median after normalisation (paper)
VOLUME_DTYPE = np.float16
INDEX_COLUMNS = ["kind", "row", "scan_key", "subject_key", "group_key", "timepoint", "level", "level_index",
                 "grade", "mid_slice", "width_mm"]
AP_AXIS, SI_AXIS = 1, 2  # of a canonical (RAS) volume; axis 0 is the sagittal slice axis

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Structure:
    """A VB or IVD: its mask label and the labels of the VBs whose median normalises it."""

    kind: str
    level: str
    level_index: int       # 0 (T12 / T12-L1) to 6 / 5, top to bottom
    label: int
    neighbours: tuple[int, ...]


def study_structures() -> tuple[Structure, ...]:
    """The 7 VBs then the 6 IVDs of the study, each kind top to bottom."""
    vb = [SPIDER_VERTEBRA_LABELS[level] for level in VB_LEVELS]
    structures = [
        Structure("VB", level, i, vb[i], tuple(vb[j] for j in (i - 1, i + 1) if 0 <= j < len(vb)))
        for i, level in enumerate(VB_LEVELS)
    ]
    structures += [
        Structure("IVD", level, i, SPIDER_DISC_LABELS[level], (vb[i], vb[i + 1]))
        for i, level in enumerate(IVD_LEVELS)
    ]
    return tuple(structures)


STRUCTURES = study_structures()


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a structure's crop is taken: mid slice, in-plane centre (voxels) and width (mm)."""

    mid_slice: int
    centre_ap: float
    centre_si: float
    width_mm: float


def place_structure(mask: np.ndarray, label: int, spacing: Sequence[float]) -> Placement | None:
    """Mid slice, centre and width of the structure ``label`` in a canonical ``mask``; None when absent."""
    voxels = np.argwhere(mask == label)
    if not len(voxels):
        return None
    mid = int(np.floor(voxels[:, 0].mean() + 0.5))
    in_slice = voxels[voxels[:, 0] == mid]
    if not len(in_slice):  # a mean between two separate parts: take the slice with most voxels
        slices, counts = np.unique(voxels[:, 0], return_counts=True)
        mid = int(slices[np.argmax(counts)])
        in_slice = voxels[voxels[:, 0] == mid]
    points = in_slice[:, [AP_AXIS, SI_AXIS]].astype(float)
    return Placement(mid, *points.mean(axis=0), structure_width(points * [spacing[AP_AXIS], spacing[SI_AXIS]],
                                                                spacing[AP_AXIS]))


def structure_width(points_mm: np.ndarray, pixel_mm: float) -> float:
    """Width (mm) of a structure's voxels in a slice, (ap, si) mm: its extent along the principal axis
    nearest to antero-posterior, so a tilted body is as wide as an upright one.

    A run of n voxels of size p has variance p^2 (n^2 - 1) / 12, hence sqrt(12 var + p^2) = n p.
    """
    variances, axes = np.linalg.eigh(np.cov(points_mm.T, bias=True) if len(points_mm) > 1 else np.zeros((2, 2)))
    along = int(np.argmax(np.abs(axes[0])))  # the eigenvector with the largest antero-posterior part
    return float(np.sqrt(12.0 * max(variances[along], 0.0) + pixel_mm**2))


def crop_structure(
    volume: np.ndarray, spacing: Sequence[float], placement: Placement, shape: Sequence[int]
) -> np.ndarray:
    """The ``(rows, cols, slices)`` crop of a canonical ``volume`` around ``placement`` (float32).

    Columns span ``CONTEXT x width`` (anterior first), rows the same pixel size (superior first),
    slices the scan's own around the mid slice; outside the volume is zero. Bilinear in-plane.
    """
    rows, cols, n_slices = shape
    pixel_mm = CONTEXT * placement.width_mm / cols
    ap = placement.centre_ap + ((cols - 1) / 2.0 - np.arange(cols)) * pixel_mm / spacing[AP_AXIS]
    si = placement.centre_si + ((rows - 1) / 2.0 - np.arange(rows)) * pixel_mm / spacing[SI_AXIS]
    grid_si, grid_ap = np.meshgrid(si, ap, indexing="ij")
    crop = np.zeros((rows, cols, n_slices), np.float32)
    for k, z in enumerate(range(placement.mid_slice - n_slices // 2, placement.mid_slice - n_slices // 2 + n_slices)):
        if 0 <= z < volume.shape[0]:
            crop[:, :, k] = ndimage.map_coordinates(volume[z], [grid_ap, grid_si], order=1, mode="constant", cval=0.0)
    return crop


def normalisation_scale(volume: np.ndarray, mask: np.ndarray, neighbours: Sequence[int]) -> float:
    """The factor that brings the median of the ``neighbours``' voxels to ``MEDIAN_TARGET``."""
    median = float(np.median(volume[np.isin(mask, neighbours)]))
    if median <= 0:
        raise ValueError(f"the neighbouring vertebrae {list(neighbours)} have median intensity {median}; "
                         f"cannot normalise (is the mask on the image's grid?)")
    return MEDIAN_TARGET / median


def scan_placements(mask: np.ndarray, spacing: Sequence[float]) -> dict[Structure, Placement]:
    """The study structures present in ``mask`` (with at least one neighbouring VB) and their placements."""
    present = {s.label for s in STRUCTURES if (mask == s.label).any()}
    placements = {}
    for structure in STRUCTURES:
        if structure.label in present and any(n in present for n in structure.neighbours):
            placements[structure] = place_structure(mask, structure.label, spacing)
    return placements


def extract_structures(
    volume: np.ndarray, mask: np.ndarray, spacing: Sequence[float], placements: dict[Structure, Placement],
    shapes: dict[str, Sequence[int]],
) -> dict[Structure, np.ndarray]:
    """The normalised crop of each placed structure; ``shapes`` maps VB/IVD to (rows, cols, slices)."""
    crops = {}
    for structure, placement in placements.items():
        scale = normalisation_scale(volume, mask, structure.neighbours)
        crops[structure] = crop_structure(volume, spacing, placement, shapes[structure.kind]) * scale
    return crops


def disc_grades(gradings: pd.DataFrame) -> dict[tuple[str, str], int]:
    """(scan_key, IVD level) -> grade, from gradings with scan_key, ivd_label, pfirrmann_grade."""
    level_of = {label - 200: level for level, label in SPIDER_DISC_LABELS.items()}
    return {
        (row.scan_key, level_of[int(row.ivd_label)]): int(row.pfirrmann_grade)
        for row in gradings.itertuples()
        if int(row.ivd_label) in level_of and pd.notna(row.pfirrmann_grade)
    }


def extract_vertebrae(
    scans: pd.DataFrame,
    gradings: pd.DataFrame,
    vb_path: Path | str,
    ivd_path: Path | str,
    index_path: Path | str,
    *,
    vb_shape: Sequence[int],
    ivd_shape: Sequence[int],
) -> pd.DataFrame:
    """Write every scan's VB and IVD volumes to ``vb_path``/``ivd_path`` (.npy) and their index (TSV).

    ``scans`` has scan_key, subject_key, group_key, timepoint, nifti_path, mask_path (the table of
    ``mrissl.longitudinal.curation.link_scans``); scans are taken in (subject, timepoint, scan) order,
    so the same inputs give byte-identical files. Returns the index (INDEX_COLUMNS); ``row`` is the
    row in the array of its ``kind``.
    """
    shapes = {"VB": tuple(vb_shape), "IVD": tuple(ivd_shape)}
    for kind, shape in shapes.items():
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"longitudinal.{kind.lower()}_shape {list(shape)} must be [rows, cols, slices]")
    grades = disc_grades(gradings)
    ordered = scans.sort_values(["subject_key", "timepoint", "scan_key"], ignore_index=True)

    # Pass 1: the masks alone give every crop's placement, hence the array sizes.
    placements = []
    for scan in ordered.itertuples():
        mask, spacing = load_canonical(scan.mask_path, dtype=np.int16), canonical_spacing(scan.mask_path)
        found = scan_placements(mask, spacing)
        missing = [s.level for s in STRUCTURES if s not in found]
        if missing:
            log.warning("scan %s: no %s in its mask (or no neighbouring vertebra); left out", scan.scan_key, missing)
        placements.append(found)
    rows = {kind: 0 for kind in KINDS}
    entries = []
    for scan, found in zip(ordered.itertuples(), placements):
        for structure, placement in found.items():
            grade = grades.get((scan.scan_key, structure.level)) if structure.kind == "IVD" else None
            entries.append((structure.kind, rows[structure.kind], scan.scan_key, scan.subject_key, scan.group_key,
                            int(scan.timepoint), structure.level, structure.level_index, grade,
                            placement.mid_slice, round(placement.width_mm, 2)))
            rows[structure.kind] += 1
    index = pd.DataFrame(entries, columns=INDEX_COLUMNS).astype({"grade": "Int64"})
    log.info("%d scans: %d VB and %d IVD volumes", len(ordered), rows["VB"], rows["IVD"])

    # Pass 2: each image once; the arrays are reopened per scan so written pages leave the process.
    paths = {"VB": Path(vb_path), "IVD": Path(ivd_path)}
    for kind, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.lib.format.open_memmap(path, mode="w+", dtype=VOLUME_DTYPE, shape=(rows[kind], *shapes[kind]))
    written = {kind: 0 for kind in KINDS}
    for n_done, (scan, found) in enumerate(zip(ordered.itertuples(), placements), start=1):
        volume, spacing = load_canonical(scan.nifti_path), canonical_spacing(scan.nifti_path)
        mask = load_canonical(scan.mask_path, dtype=np.int16)
        if mask.shape != volume.shape:
            raise ValueError(f"{scan.mask_path}: mask shape {mask.shape} differs from its image {volume.shape}")
        crops = extract_structures(volume, mask, spacing, found, shapes)
        arrays = {kind: np.lib.format.open_memmap(paths[kind], mode="r+") for kind in KINDS}
        for structure, crop in crops.items():
            arrays[structure.kind][written[structure.kind]] = crop.astype(VOLUME_DTYPE)
            written[structure.kind] += 1
        del arrays
        if n_done % 50 == 0 or n_done == len(ordered):
            log.info("%d/%d scans extracted", n_done, len(ordered))
    if written != rows:
        raise RuntimeError(f"wrote {written} volumes but counted {rows}")
    write_table(index, index_path, INDEX_COLUMNS)
    return index


def read_vertebrae_index(path: Path | str) -> pd.DataFrame:
    """Read an index written by ``extract_vertebrae`` (rule longitudinal_vertebrae) (keys stay strings, grade may be empty)."""
    index = read_checked_table(path, INDEX_COLUMNS, "vertebrae index", "re-run longitudinal_vertebrae",
                               dtype={"scan_key": str, "subject_key": str, "group_key": str})
    return index.astype({"grade": "Int64"})
