"""2D slices for the sequence classifier: the central fraction of each series in three planes.

For each labelled series (paper, section 2.1):

1. reorient the NIfTI to canonical RAS (nibabel), so axis 0 runs left->right, 1 posterior->anterior,
   2 inferior->superior whatever the acquisition;
2. normalise intensities per series: the 1st and 99th percentiles of the whole volume map to 0 and 1,
   values outside are clipped. Percentiles rather than min/max because single hot voxels and
   vendor scaling would otherwise set the range; per series because the classifier must see
   contrast, not scanner gain;
3. in each plane (sagittal = slices along x, coronal = along y, axial = along z) keep the central
   ``fraction`` of slices, at least ``min_slices`` of them (``central_slice_indices``), then at most
   ``max_slices`` of those, evenly spaced;
4. turn each slice to display orientation (superior, or anterior for axial, at the top) and resize
   it to ``image_size`` x ``image_size`` (bilinear, anti-aliased when shrinking), as the paper
   resamples every slice to 84x84 whatever its field of view and aspect ratio.

Per split, all slices go into one float16 array ``(N, H, W)`` written through
``np.lib.format.open_memmap`` after a first pass has counted them from the NIfTI headers, so memory
stays one volume deep however many series there are; a TSV index names the series, plane and slice
of every array row. ``label_fraction_subsets`` picks the labelled rows of each fine-tuning fraction
from a training index (whole patients, whole series or single slices, nested).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mrissl.seqclass import SEQUENCE_CLASSES, ordered_classes
from mrissl.manifest import canonical_shape, load_canonical, read_checked_table, write_table

PLANE_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}
INDEX_COLUMNS = ["row", "series_key", "study_key", "patient_key", "plane", "slice_index", "label"]
PERCENTILES = (1.0, 99.0)
SLICE_DTYPE = np.float16

log = logging.getLogger(__name__)


def central_slice_indices(
    n: int, fraction: float, min_slices: int = 1, max_slices: int | None = None
) -> np.ndarray:
    """Indices of the slices kept out of ``n`` along one axis.

    ``max(min_slices, round(fraction * n))`` central slices (rounding half up, never more than
    ``n``; when the parities of the count and ``n`` differ the block sits half a slice low), then at
    most ``max_slices`` of those, evenly spaced including both ends (``None`` keeps all).
    """
    count = min(n, max(min_slices, math.floor(fraction * n + 0.5)))
    start = (n - count) // 2
    kept = np.arange(start, start + count)
    if max_slices is not None and count > max_slices:
        kept = kept[np.round(np.linspace(0, count - 1, max_slices)).astype(int)]
    return kept


def normalise_intensity(volume: np.ndarray, percentiles: tuple[float, float] = PERCENTILES) -> np.ndarray:
    """``volume`` mapped so its ``percentiles`` go to 0 and 1, clipped to [0, 1] (float32).

    A volume whose percentiles coincide (constant or nearly empty) maps to zeros.
    """
    low, high = np.percentile(volume, percentiles)
    if high <= low:
        return np.zeros_like(volume, dtype=np.float32)
    return np.clip((volume - low) / (high - low), 0.0, 1.0).astype(np.float32)


def plane_slices(volume: np.ndarray, plane: str, indices: Sequence[int]) -> np.ndarray:
    """Slices ``indices`` of a RAS ``volume`` in ``plane`` as ``(k, rows, cols)`` in display orientation.

    ``np.rot90`` puts the plane's second axis up: superior at the top of sagittal (cols posterior->
    anterior) and coronal (cols left->right) slices, anterior at the top of axial slices (cols
    left->right). So sagittal slices are ``(nz, ny)``, coronal ``(nz, nx)``, axial ``(ny, nx)``.
    """
    stack = np.moveaxis(np.take(volume, indices, axis=PLANE_AXIS[plane]), PLANE_AXIS[plane], 0)
    return np.rot90(stack, axes=(1, 2))


def resize_slices(slices: np.ndarray, image_size: int) -> np.ndarray:
    """``(k, h, w)`` slices resized to ``(k, image_size, image_size)`` in [0, 1] (float32).

    Bilinear with torch's antialias (a triangle filter widened by the shrink factor, as PIL does),
    not MONAI ``Resize``'s Gaussian anti-aliasing, which pads with zeros and darkens a flat image's
    border by ~7%.
    """
    stack = torch.from_numpy(np.ascontiguousarray(slices, dtype=np.float32))[None]
    resized = F.interpolate(stack, size=(image_size, image_size), mode="bilinear", antialias=True)[0]
    return np.clip(resized.numpy(), 0.0, 1.0)  # the filter is convex; clip only float rounding


def series_slice_indices(
    shape: Sequence[int], planes: Sequence[str], fraction: float, min_slices: int, max_slices: int | None
) -> dict[str, np.ndarray]:
    """For a canonical ``shape``, the kept slice indices in each of ``planes``."""
    return {
        plane: central_slice_indices(shape[PLANE_AXIS[plane]], fraction, min_slices, max_slices)
        for plane in planes
    }


def extract_split_slices(
    manifest: pd.DataFrame,
    splits: pd.DataFrame,
    split: str,
    array_path: Path | str,
    index_path: Path | str,
    *,
    planes: Sequence[str],
    slice_fraction: float,
    min_slices_per_plane: int,
    max_slices_per_plane: int | None,
    image_size: int,
    classes: Sequence[str] = SEQUENCE_CLASSES,
) -> pd.DataFrame:
    """Write the slices of ``split``'s labelled series to ``array_path`` (.npy) and ``index_path`` (TSV).

    ``splits`` is the table of rule ``seqclass_split``. Only series labelled with one of ``classes`` are
    kept (real cohorts carry many more sequence types; the others are counted in the log). Series
    are taken in (patient, study, series) key order, and planes in ``planes`` order, so the same
    inputs give byte-identical files. Returns the index.
    """
    unknown = sorted(set(manifest["patient_key"]) - set(splits["patient_key"]))
    if unknown:
        raise ValueError(
            f"{len(unknown)} manifest patients (e.g. {unknown[:3]}) have no split: the splits table "
            f"is older than the manifest; re-run seqclass_split"
        )
    in_split = set(splits.loc[splits["split"] == split, "patient_key"])
    labelled = manifest[manifest["label"].notna() & manifest["patient_key"].isin(in_split)]
    other = labelled.loc[~labelled["label"].isin(classes), "label"].value_counts().sort_index()
    if len(other):
        log.info("%s: left out series of classes outside %s: %s", split, list(classes), other.to_dict())
    series = labelled[labelled["label"].isin(classes)]
    series = series.sort_values(["patient_key", "study_key", "series_key"], ignore_index=True)

    # Pass 1: count the slices from the headers, so the array can be allocated on disk once.
    kept = [
        series_slice_indices(
            canonical_shape(nib.load(row.nifti_path)), planes, slice_fraction, min_slices_per_plane,
            max_slices_per_plane,
        )
        for row in series.itertuples()
    ]
    index = pd.DataFrame(
        [
            (row.series_key, row.study_key, row.patient_key, plane, int(i), row.label)
            for row, per_plane in zip(series.itertuples(), kept)
            for plane in planes
            for i in per_plane[plane]
        ],
        columns=INDEX_COLUMNS[1:],
    )
    index.insert(0, "row", np.arange(len(index)))
    log.info("%s: %d labelled series, %d slices of %dx%d", split, len(series), len(index), image_size, image_size)

    # Pass 2: fill the array one series at a time. Each series maps the file anew and unmaps it,
    # so written pages leave the process (the kernel writes them back) and memory stays one volume deep.
    Path(array_path).parent.mkdir(parents=True, exist_ok=True)
    np.lib.format.open_memmap(array_path, mode="w+", dtype=SLICE_DTYPE, shape=(len(index), image_size, image_size))
    row = 0
    for n_done, (entry, per_plane) in enumerate(zip(series.itertuples(), kept), start=1):
        volume = normalise_intensity(load_canonical(entry.nifti_path))
        array = np.lib.format.open_memmap(array_path, mode="r+")
        for plane in planes:
            resized = resize_slices(plane_slices(volume, plane, per_plane[plane]), image_size)
            array[row : row + len(resized)] = resized.astype(SLICE_DTYPE)
            row += len(resized)
        del array
        if n_done % 50 == 0 or n_done == len(series):
            log.info("%s: %d/%d series, %d slices written", split, n_done, len(series), row)
    if row != len(index):
        raise RuntimeError(f"{array_path}: wrote {row} slices but counted {len(index)}")
    write_table(index, index_path, INDEX_COLUMNS)
    return index


def read_slice_index(path: Path | str) -> pd.DataFrame:
    """Read a slice index TSV written by ``extract_split_slices`` (keys stay strings)."""
    index = read_checked_table(path, INDEX_COLUMNS, "slice index", "re-run seqclass_slices", dtype=str,
                               keep_default_na=False)
    return index.astype({"row": int, "slice_index": int})


def summarise_curation(indexes: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Series and slices per class (rows) and split (columns), plus a total row and total columns.

    ``indexes`` maps a split name to its slice index (``extract_split_slices``); classes come in the
    paper's order (``SEQUENCE_CLASSES``), any other label after them.
    """
    every = pd.concat(indexes.values(), ignore_index=True)
    order = ordered_classes(every["label"], SEQUENCE_CLASSES)
    table = pd.DataFrame({"label": order + ["total"]})
    for name, index in [*indexes.items(), ("total", every)]:
        per_class = index.groupby("label").agg(series=("series_key", "nunique"), slices=("row", "size"))
        for measure in ("series", "slices"):
            counts = per_class[measure].reindex(order, fill_value=0)
            table[f"{name}_{measure}"] = [*counts.astype(int), int(counts.sum())]
    return table


def combine_transfer_split(
    internal: tuple[np.ndarray, pd.DataFrame], site: tuple[np.ndarray, pd.DataFrame], site_classes: Sequence[str],
    split: str, array_path: Path | str, index_path: Path | str,
) -> pd.DataFrame:
    """One split of an external site's transfer dataset (paper 000, Section 2.1 and Fig. 3).

    The paper builds each external dataset from a fixed number of images per sequence (220), the
    site's for the sequences it has, "the originals from the in-house internal dataset" for the
    others. Here training and validation take the site's slices of ``site_classes`` and, of every
    other class, whole internal series (in key order, i.e. a fixed random draw) up to the site's
    mean number of slices per class; the test split is the site's slices alone, so its accuracy is
    that of the new sequences. ``internal`` and ``site`` are (images, index) pairs of the same split.
    Returns the index of the written array.
    """
    site_images, site_index = site
    other_classes = sorted(set(site_index["label"]) - set(site_classes))
    if other_classes:
        raise ValueError(f"{split}: the site's slices hold classes {other_classes} beyond its {list(site_classes)}")
    parts = [(site_images, site_index)]
    if split != "test":
        internal_images, internal_index = internal
        per_class = math.ceil(len(site_index) / len(site_classes))
        kept = []
        for _, slices in internal_index[~internal_index["label"].isin(site_classes)].groupby("label", sort=True):
            series_order = slices["series_key"].drop_duplicates()
            before = slices.groupby("series_key", sort=False).size().reindex(series_order).cumsum().shift(fill_value=0)
            kept.append(slices[slices["series_key"].isin(before[before < per_class].index)])
        parts.insert(0, (internal_images, pd.concat(kept) if kept else internal_index.iloc[:0]))
    images = np.concatenate([np.asarray(array[index["row"].to_numpy()]) for array, index in parts])
    index = pd.concat([index for _, index in parts], ignore_index=True)
    index["row"] = np.arange(len(index))
    Path(array_path).parent.mkdir(parents=True, exist_ok=True)
    np.save(array_path, images.astype(SLICE_DTYPE))
    write_table(index, index_path, INDEX_COLUMNS)
    log.info("%s: %d site slices (%s) and %d internal slices of the other classes", split, len(site_index),
             ",".join(site_classes), len(index) - len(site_index))
    return index


LABEL_UNITS = {"patient": "patient_key", "series": "series_key", "slice": "row"}


def label_fraction_subsets(index_df: pd.DataFrame, fractions: list[float], seed: int,
                           by_class: bool = False, unit: str = "patient") -> dict[float, np.ndarray]:
    """Row numbers of the labelled subset for each fraction of a training split, sampled by ``unit``.

    The units (``patient``, ``series`` or ``slice``) are put in a random order fixed by ``seed`` and
    their slices follow one another in that order (in random order within a unit); a fraction f takes
    the first ceil(f * N) slices, i.e. whole units with only the last one cut. A class still missing
    then gets the first slice of it in the same order. Whole patients keep a patient's other series
    out of a small subset; whole series are what a labeller labels (one class per series) and, on a
    cohort of one series per patient as the paper's, the same as whole patients; single slices
    spread a small subset over as many series as it has slices. ``by_class`` takes the first
    ceil(f * N_c) slices of each class c instead, so every class holds its share (an external site's
    dataset, whose site classes come from other patients than the rest: drawn as a whole, a small
    fraction may hold one slice of each site class or none). Both depend only on the order, so the
    subsets are nested (a smaller fraction's subset lies inside every larger one's) whatever list of
    fractions is asked.
    """
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad:
        raise ValueError(f"label fractions must be in (0, 1], got {bad} (0.5% is 0.005)")
    if unit not in LABEL_UNITS:
        raise ValueError(f"label subsets are drawn by {' or '.join(LABEL_UNITS)}, not {unit!r}")
    rng = np.random.default_rng(seed)
    keys = index_df[LABEL_UNITS[unit]]
    units = np.sort(keys.unique())
    unit_rank = dict(zip(rng.permutation(units), range(len(units))))
    within_unit = rng.random(len(index_df))
    order = np.lexsort((within_unit, keys.map(unit_rank).to_numpy()))
    rows = index_df["row"].to_numpy()[order]
    labels = index_df["label"].to_numpy()[order]
    first_of_class = {label: rows[np.argmax(labels == label)] for label in np.unique(labels)}

    subsets = {}
    for fraction in fractions:
        if by_class:
            taken = np.zeros(len(rows), bool)
            for label in first_of_class:
                members = np.flatnonzero(labels == label)
                taken[members[:math.ceil(fraction * len(members))]] = True
            subsets[fraction] = np.sort(rows[taken])
            continue
        n = math.ceil(fraction * len(rows))
        missing = set(first_of_class) - set(labels[:n])
        fill = np.array([first_of_class[c] for c in sorted(missing)], dtype=rows.dtype)
        subsets[fraction] = np.sort(np.concatenate([rows[:n], fill]))
    return subsets
