"""The manifest: one row per usable series, the contract between every reader and the curation.

Ingest (DICOM) and the readers for real datasets (BraTS, SPIDER, IXI, BIDS, ...) all write this
schema; nothing downstream knows where a series came from. No raw identifying value appears in
it: patients, studies and series are keyed by salted hashes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

MANIFEST_COLUMNS = [
    "patient_key",        # salted hash of PatientID (or the dataset's subject id)
    "study_key",          # salted hash of StudyInstanceUID (or subject+session)
    "series_key",         # salted hash of SeriesInstanceUID (or the file stem)
    "source",             # phantom | dicom | brats2021 | brats2023 | spider | ixi | bids | tsv
    "label",              # verified class where known (e.g. T1, FLAIR), else empty
    "series_description",
    "protocol_name",
    "manufacturer",
    "field_strength_t",
    "scanning_sequence",
    "image_type",
    "repetition_time_ms",
    "echo_time_ms",
    "inversion_time_ms",
    "flip_angle_deg",
    "b_value",
    "study_year",         # year only: full dates are identifying
    "n_files",            # input files that made this series (0 for single-file formats)
    "shape",              # "nx,ny,nz" of the NIfTI
    "spacing_mm",         # "sx,sy,sz"
    "orientation",        # nibabel axis codes of the NIfTI, e.g. "LPS"
    "acquisition_plane",  # axial | sagittal | coronal (from the slice normal)
    "nifti_path",         # relative to the working directory
    "mask_path",          # segmentation/label mask aligned with nifti_path, else empty
    "group_key",          # family/twin group for splits; equals patient_key when unknown
]

# One row per source file that did not make the manifest. Source paths may name patients, so a
# file is named by its salted file_key; the plain key -> path table stays outside results/
# (private/ingest/file_index.tsv for DICOM, private/.../quarantine_paths.tsv for the readers).
QUARANTINE_COLUMNS = ["file_key", "reason"]


def salted_key(salt: str, value: object) -> str:
    """A stable, non-reversible key for an identifying value (16 hex digits of SHA-256)."""
    return hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()[:16]


def file_key(salt: str, relative_path: str) -> str:
    """The key that names a source file under results/: a salted hash of its path below the data root."""
    return salted_key(salt, f"file:{relative_path}")


def read_checked_table(path: Path | str, columns: list[str], what: str, remedy: str, **read_csv) -> pd.DataFrame:
    """Read a TSV the pipeline wrote (``read_csv`` options as pandas takes them), checking it has ``columns``;
    the error names the file, the ``what`` it should be, and the ``remedy``."""
    table = pd.read_csv(path, sep="\t", **read_csv)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: {what} lacks columns {missing}; {remedy}")
    return table


def read_manifest(path: Path | str) -> pd.DataFrame:
    """Read a manifest TSV, checking it has every column of the schema."""
    return read_checked_table(path, MANIFEST_COLUMNS, "manifest", "was it written by mrissl ingest?",
                              dtype={"label": str}, keep_default_na=False, na_values=[""])


def write_table(df: pd.DataFrame, path: Path | str, columns: list[str]) -> None:
    """Write ``df`` as TSV with exactly ``columns`` in that order (a stable, diffable file)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    df.reindex(columns=columns).to_csv(path, sep="\t", index=False)


def canonical_shape(image: nib.Nifti1Image) -> tuple[int, int, int]:
    """The 3D shape ``image`` has once reoriented to RAS, read from the header alone."""
    if len(image.shape) != 3:
        raise ValueError(
            f"{image.get_filename()}: shape {image.shape} is not 3D; ingest must write one 3D volume "
            f"per manifest row (split 4D series into one row per volume)"
        )
    target_axes = nib.io_orientation(image.affine)[:, 0].astype(int)
    shape = [0, 0, 0]
    for source_axis, target_axis in enumerate(target_axes):
        shape[target_axis] = image.shape[source_axis]
    return tuple(shape)


def load_canonical(path: Path | str, dtype=np.float32) -> np.ndarray:
    """The NIfTI at ``path`` as an array (``dtype``) in canonical RAS axis order."""
    image = nib.load(path)
    canonical_shape(image)  # fails early, naming the file, on a non-3D image
    return np.asarray(nib.as_closest_canonical(image).dataobj, dtype=dtype)


def canonical_spacing(path: Path | str) -> np.ndarray:
    """The voxel sizes (mm) of the NIfTI at ``path`` along the canonical RAS axes (header only)."""
    return np.asarray(nib.as_closest_canonical(nib.load(path)).header.get_zooms()[:3], dtype=float)
