"""Curation of the paediatric tumour cohorts for ``reportcl``: volumes, labels, folds, cohort table.

- ``key_subjects``: a hospital's side table (clinical data, reports) keyed by raw subject ids gets
  the readers' salted ``patient_key``; the raw id is dropped, so it never reaches ``results/``.
- ``preprocess_tumour_cohort``: each FLAIR of the cohort's manifest with its mask, reoriented to
  RAS, z-scored over the brain (MONAI ``NormalizeIntensity(nonzero=True)``: skull-stripped
  background stays 0) and resized to ``volume_shape`` (MONAI ``Resize``: trilinear with Gaussian
  anti-aliasing for images, nearest-exact for masks), into one memory-mappable array each plus an index
  with the patient's tumour location and genetic marker (paper: resized to 240 x 240 x 155).
- ``patient_folds``: the paper's 5-fold cross-validation at patient (family) level, stratified by
  marker (scikit-learn ``StratifiedGroupKFold``), checked with ``assert_disjoint_splits``.
- ``cohort_table``: markers by location per dataset, the layout of the paper's Table 6.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from mrissl.splits import assert_disjoint_splits
from mrissl.manifest import load_canonical, read_checked_table
from mrissl.readers.rows import patient_key
from mrissl.vocabulary import LOCATIONS, MARKER_NAMES, MARKERS

log = logging.getLogger(__name__)

INDEX_COLUMNS = ["row", "patient_key", "study_key", "series_key", "group_key", "location", "marker"]
FOLD_COLUMNS = ["patient_key", "group_key", "marker", "location", "fold"]
IMAGE_DTYPE = np.float16


def key_subjects(table: pd.DataFrame, salt: str, source: str) -> pd.DataFrame:
    """``table`` with ``patient_key`` (as the ``source`` reader computes it) in place of ``subject``."""
    if "subject" not in table.columns:
        raise ValueError(f"side table has no 'subject' column (columns: {list(table.columns)}); "
                         "key clinical data and reports by the dataset's subject id")
    keys = [patient_key(salt, source, str(subject)) for subject in table["subject"]]
    return table.drop(columns="subject").assign(patient_key=keys)


def _check_labels(clinical: pd.DataFrame) -> None:
    for column, allowed in (("marker", MARKERS), ("location", LOCATIONS)):
        bad = sorted(set(clinical[column]) - set(allowed))
        if bad:
            raise ValueError(f"clinical table: unknown {column} values {bad}; use {list(allowed)}")


def _resize(volume: np.ndarray, shape: Sequence[int], mode: str) -> np.ndarray:
    from monai.transforms import Resize  # imported here: MONAI is slow to import

    resize = Resize(tuple(shape), mode=mode, anti_aliasing=mode == "trilinear")
    return np.asarray(resize(volume[None])[0])


def preprocess_tumour_cohort(
    manifest: pd.DataFrame,
    clinical: pd.DataFrame,
    salt: str,
    source: str,
    volume_shape: Sequence[int],
    images_path: Path | str,
    masks_path: Path | str,
) -> pd.DataFrame:
    """Write the cohort's FLAIR volumes and masks as ``(N, *volume_shape)`` arrays; return their index.

    ``manifest`` is the cohort's (``read_cohort``), ``clinical`` its side table keyed by ``subject``
    (with ``location`` and ``marker``), ``source`` the reader that made the manifest (it salts the
    keys). Rows follow (patient, study, series) key order; images are float16, masks uint8 with the
    dataset's labels. Memory stays one volume deep.
    """
    from monai.transforms import NormalizeIntensity  # imports torch: only here, not for tables and figures

    _check_labels(clinical)
    keyed = key_subjects(clinical, salt, source).drop_duplicates("patient_key")
    flair = manifest[manifest["label"] == "FLAIR"]
    if flair.empty:
        raise ValueError("the cohort manifest has no FLAIR series; reportcl needs one FLAIR (and mask) per patient")
    no_mask = flair["mask_path"].isna()
    if no_mask.any():
        raise ValueError(f"{int(no_mask.sum())} FLAIR series have no segmentation mask; reportcl's explainability "
                         "Dice needs one per image")
    series = flair.merge(keyed[["patient_key", "location", "marker"]], on="patient_key", how="inner")
    missing = flair["patient_key"].nunique() - series["patient_key"].nunique()
    if missing:
        log.warning("%d patients of the manifest have no clinical row and are left out", missing)
    if series.empty:
        raise ValueError("no manifest patient matches the clinical table: check the salt and the reader source")
    series = series.sort_values(["patient_key", "study_key", "series_key"], ignore_index=True)
    series["group_key"] = series["group_key"].fillna(series["patient_key"])
    index = series.assign(row=np.arange(len(series)))[INDEX_COLUMNS]

    shape = (len(series), *(int(n) for n in volume_shape))
    for path in (images_path, masks_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.lib.format.open_memmap(images_path, mode="w+", dtype=IMAGE_DTYPE, shape=shape)
    np.lib.format.open_memmap(masks_path, mode="w+", dtype=np.uint8, shape=shape)
    normalise = NormalizeIntensity(nonzero=True)
    for n, entry in enumerate(series.itertuples()):
        volume = np.asarray(normalise(load_canonical(entry.nifti_path)), dtype=np.float32)
        mask = np.asarray(nib.as_closest_canonical(nib.load(entry.mask_path)).dataobj, dtype=np.float32)
        if mask.shape != volume.shape:
            raise ValueError(f"{entry.mask_path}: mask shape {mask.shape} differs from its image's {volume.shape}")
        images = np.lib.format.open_memmap(images_path, mode="r+")
        masks = np.lib.format.open_memmap(masks_path, mode="r+")
        images[n] = _resize(volume, volume_shape, "trilinear").astype(IMAGE_DTYPE)
        masks[n] = np.rint(_resize(mask, volume_shape, "nearest-exact")).astype(np.uint8)  # no half-voxel shift
        del images, masks  # unmap: written pages leave the process
        if (n + 1) % 50 == 0 or n + 1 == len(series):
            log.info("%d/%d volumes written", n + 1, len(series))
    return index


def read_tumour_index(path: Path | str) -> pd.DataFrame:
    index = read_checked_table(path, INDEX_COLUMNS, "index", "re-run reportcl_preprocess", dtype=str,
                               keep_default_na=False)
    return index.astype({"row": int})


def patient_folds(index: pd.DataFrame, n_folds: int, seed: int) -> pd.DataFrame:
    """One row per patient: its cross-validation ``fold`` (0..n_folds-1) as test fold.

    Folds are drawn by family/patient group, stratified by marker, deterministic for ``seed`` and
    independent of the index's row order. Raises ``ValueError`` when there are fewer groups than
    folds, or (as a final check) when a patient or group would be in two folds' test sets.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    series = index[["patient_key", "group_key", "marker", "location"]]
    series = series.sort_values(["group_key", "patient_key"], ignore_index=True)
    largest = int(series.drop_duplicates("group_key")["marker"].value_counts().max())
    if largest < n_folds:
        raise ValueError(f"the most frequent marker has {largest} patient groups, fewer than the {n_folds} folds; "
                         "add patients or lower reportcl.n_folds")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold = np.empty(len(series), int)
    for k, (_, test) in enumerate(splitter.split(series, series["marker"], groups=series["group_key"])):
        fold[test] = k
    series = series.assign(fold=fold)
    assert_disjoint_splits(series, "patient_key", "fold")
    assert_disjoint_splits(series, "group_key", "fold")
    folds = series.drop_duplicates("patient_key").sort_values("patient_key", ignore_index=True)[FOLD_COLUMNS]
    for k in range(n_folds):
        counts = folds.loc[folds["fold"] == k, "marker"].value_counts().reindex(MARKERS, fill_value=0)
        log.info("fold %d: %d patients %s", k, int(counts.sum()), counts.to_dict())
    return folds


def cohort_table(indexes: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Patients per marker (columns, Table 6's) and location (rows, plus All) for each named dataset."""
    rows = []
    for dataset, index in indexes.items():
        patients = index.drop_duplicates("patient_key")
        counts = pd.crosstab(patients["location"], patients["marker"]).reindex(
            index=list(LOCATIONS), columns=list(MARKERS), fill_value=0)
        counts.loc["all"] = counts.sum()
        for location, values in counts.iterrows():
            rows.append({"Dataset": dataset, "Location": location.capitalize(),
                         **{MARKER_NAMES[m]: int(values[m]) for m in MARKERS}, "Total": int(values.sum())})
    return pd.DataFrame(rows)
