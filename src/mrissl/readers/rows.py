"""What every dataset reader shares: one manifest row per image file, or one quarantine row.

A reader only walks its dataset's layout and yields a :class:`SeriesFile` for each image it
finds (raw ids, its label, its mask) or a :class:`Rejected` for a file it will not read.
:func:`build_manifest` does the rest the same way for every dataset: it reads each image once
(so a truncated file fails here, not in training), checks it is 3D and that its mask lies on the
same grid, puts it into ``out_dir`` under salted names, and keys everything by salted hashes.

Raw ids never leave this module: the manifest holds keys, and the files in ``out_dir`` are named
``<patient_key>/<series_key>.nii.gz``, written as the DICOM ingest writes its own (free-text
NIfTI header fields blanked, voxels byte for byte); other formats (.mha) are converted to NIfTI.

Source paths (a folder or file may be named after its subject) are not written under results/
either: a quarantine row names its file by ``file_key`` and its reason names a related file (a
mask, a sidecar, a .bval) by its role only. The rows returned also carry ``path`` and
``related_path`` (relative to the dataset folder), which the rules write to the private table
QUARANTINE_PATH_COLUMNS outside results/, as the DICOM ingest keeps its private file index
(see :mod:`mrissl.ingest`). Logs name keys, not paths.
"""

from __future__ import annotations

import gzip
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import SimpleITK as sitk

from mrissl.ingest import nifti_fields, write_deidentified_nifti
from mrissl.manifest import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, file_key, salted_key
from mrissl.geometry import LPS_TO_RAS

log = logging.getLogger(__name__)

# Masks and images must share their grid; sform values are float32, hence the tolerance.
AFFINE_TOLERANCE_MM = 1e-2

# The private key -> path table of the quarantined files (paths relative to the dataset folder).
QUARANTINE_PATH_COLUMNS = ["file_key", "path", "related_path"]


@dataclass(frozen=True)
class SeriesFile:
    """One image a reader found. Raw ids live here only long enough to be hashed."""

    image: Path
    subject: str                # the dataset's own subject id
    study: str = ""             # session / timepoint within the subject; "" when there is one
    label: str | None = None    # class in the project's vocabulary (T1, T1CE, T2, FLAIR, TOF, PD, ...)
    description: str | None = None  # the dataset's own name of the sequence (t1ce, T2w, t2_SPACE)
    mask: Path | None = None    # segmentation on the same grid as ``image``
    group: str = ""             # family / twin group when the dataset knows it
    acquisition: dict[str, object] = field(default_factory=dict)  # manifest column -> value


@dataclass(frozen=True)
class Rejected:
    """A file a reader will not read, and why (``about``: the related file the reason is about)."""

    path: Path
    reason: str
    about: Path | None = None


class Unusable(Exception):
    """An image or mask that cannot enter the manifest; the message is the quarantine reason.

    ``about`` is the related file the reason is about (a mask, a sidecar), which the reason names
    by its role only.
    """

    def __init__(self, reason: str, about: Path | None = None):
        super().__init__(reason)
        self.about = about


def patient_key(salt: str, source: str, subject: str) -> str:
    """The salted key of a dataset's subject; the dataset name keeps ids of two datasets apart."""
    return salted_key(salt, f"{source}:{subject}")


def is_nifti(path: Path) -> bool:
    return path.name.endswith((".nii", ".nii.gz"))


def sitk_to_nifti(image: sitk.Image) -> nib.Nifti1Image:
    """A SimpleITK image as a NIfTI image with the same voxels at the same world positions.

    ITK's direction and origin are in LPS; NIfTI affines are RAS. The voxel array keeps the
    (i, j, k) index order of ITK (``GetArrayFromImage`` returns it reversed, as (k, j, i)).
    """
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise Unusable(
            f"{image.GetDimension()}D image with {image.GetNumberOfComponentsPerPixel()} components "
            "per voxel; a 3D scalar volume is expected"
        )
    direction = np.array(image.GetDirection()).reshape(3, 3)
    affine_lps = np.eye(4)
    affine_lps[:3, :3] = direction * np.array(image.GetSpacing())
    affine_lps[:3, 3] = image.GetOrigin()
    affine = LPS_TO_RAS @ affine_lps
    converted = nib.Nifti1Image(sitk.GetArrayFromImage(image).transpose(2, 1, 0), affine)
    converted.set_qform(affine, code="scanner")
    converted.set_sform(affine, code="scanner")
    return converted


def load_volume(path: Path) -> nib.spatialimages.SpatialImage:
    """The 3D volume at ``path`` (NIfTI, or any format SimpleITK reads, e.g. .mha).

    Every voxel is read once so that a truncated or corrupt file is caught here, and so are volumes
    no step downstream could use: not 3D, NaN or infinite voxels (they poison every normalisation),
    an affine with non-finite entries or without three independent axes (no world position).
    """
    if not path.is_file():
        raise Unusable("missing file")
    if path.stat().st_size == 0:
        raise Unusable("empty file (0 bytes)")
    try:
        if is_nifti(path):
            image = nib.load(path)
        else:
            image = sitk_to_nifti(sitk.ReadImage(str(path)))
        voxels = np.asanyarray(image.dataobj)
    except Unusable:
        raise
    except Exception as exc:  # nibabel, gzip, zlib and ITK each raise their own types
        message = " ".join(str(exc).replace(str(path), "<file>").replace(path.name, "<file>").split())
        raise Unusable(f"unreadable image ({type(exc).__name__}: {message})") from exc
    if len(image.shape) != 3:
        raise Unusable(f"{len(image.shape)}D image of shape {image.shape}; a 3D volume is expected")
    if not np.isfinite(image.affine).all():
        raise Unusable("the affine (voxel to world) has NaN or infinite entries")
    if abs(np.linalg.det(image.affine[:3, :3])) < 1e-6:
        raise Unusable("singular affine: the voxel axes do not span 3D space (a zero or repeated axis)")
    if voxels.dtype.kind in "fc":
        bad = int(np.size(voxels) - np.count_nonzero(np.isfinite(voxels)))
        if bad:
            raise Unusable(f"{bad} NaN or infinite voxels of {voxels.size}")
    return image


def place(source: Path, image: nib.spatialimages.SpatialImage, destination: Path) -> None:
    """Write ``image`` to ``destination`` (.nii.gz) the way ingest writes its NIfTI files.

    A NIfTI keeps its voxels and scaling byte for byte, with its free-text header fields
    (descrip, aux_file: converters put image comments there) blanked; other formats are converted.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    if not is_nifti(source):
        nib.save(image, destination)
    elif source.name.endswith(".nii"):
        write_deidentified_nifti(source, destination)
    else:  # write_deidentified_nifti reads an uncompressed .nii
        with tempfile.TemporaryDirectory() as scratch:
            plain = Path(scratch) / "image.nii"
            plain.write_bytes(gzip.decompress(source.read_bytes()))
            write_deidentified_nifti(plain, destination)


def build_manifest(
    source: str,
    items: Iterable[SeriesFile | Rejected],
    base: Path,
    salt: str,
    out_dir: Path,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Manifest rows (MANIFEST_COLUMNS) and quarantine rows (QUARANTINE_COLUMNS + QUARANTINE_PATH_COLUMNS) for ``items``.

    ``base`` is the dataset folder: series and file keys hash paths relative to it, and the
    quarantine's private ``path`` and ``related_path`` are relative to it. Images go to
    ``out_dir/<patient_key>/``; ``nifti_path`` and ``mask_path`` are ``out_dir`` joined with those
    names (relative when ``out_dir`` is).
    """
    out_dir.mkdir(parents=True, exist_ok=True)  # a declared output even when every file is quarantined
    rows, quarantined = [], []
    placed_masks: dict[Path, tuple[tuple[int, ...], np.ndarray, Path]] = {}

    def relative(path: Path) -> str:
        return Path(os.path.relpath(path, base)).as_posix()

    def quarantine(path: Path, reason: str, about: Path | None) -> None:
        quarantined.append({"file_key": file_key(salt, relative(path)), "reason": reason, "path": relative(path),
                            "related_path": relative(about) if about else ""})

    def mask_for(item: SeriesFile, image: nib.spatialimages.SpatialImage, folder: Path) -> Path:
        """The placed mask of ``item``, read and placed once however many images share it."""
        if item.mask not in placed_masks:
            try:
                mask = load_volume(item.mask)
            except Unusable as exc:
                raise Unusable(f"mask: {exc}", about=item.mask) from exc
            destination = folder / f"{salted_key(salt, f'{source}:{relative(item.mask)}')}.nii.gz"
            shape, affine = mask.shape, mask.affine
        else:
            shape, affine, destination = placed_masks[item.mask]
        if shape != image.shape:
            raise Unusable(f"mask has shape {shape}, the image {image.shape}", about=item.mask)
        if not np.allclose(affine, image.affine, atol=AFFINE_TOLERANCE_MM):
            raise Unusable("mask is not on the image's grid (affines differ)", about=item.mask)
        if item.mask not in placed_masks:
            place(item.mask, mask, destination)
            placed_masks[item.mask] = (shape, affine, destination)
        return destination

    for item in items:
        if isinstance(item, Rejected):
            quarantine(item.path, item.reason, item.about)
            continue
        patient = patient_key(salt, source, item.subject)
        series = salted_key(salt, f"{source}:{relative(item.image)}")
        folder = out_dir / patient
        try:
            image = load_volume(item.image)
            mask = mask_for(item, image, folder) if item.mask else None
        except Unusable as exc:
            quarantine(item.image, str(exc), exc.about)
            continue
        destination = folder / f"{series}.nii.gz"
        place(item.image, image, destination)
        rows.append({
            "patient_key": patient,
            "study_key": salted_key(salt, f"{source}:{item.subject}:{item.study}"),
            "series_key": series,
            "source": source,
            "label": item.label,
            "series_description": item.description,
            **item.acquisition,
            "n_files": 0,
            **nifti_fields(destination),
            "nifti_path": str(destination),
            "mask_path": str(mask) if mask else None,
            "group_key": salted_key(salt, f"{source}:group:{item.group}") if item.group else patient,
        })
    for entry in quarantined:
        log.warning("quarantined file %s: %s", entry["file_key"], entry["reason"])
    log.info("%s: %d series in the manifest, %d files quarantined", source, len(rows), len(quarantined))
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    return manifest, pd.DataFrame(quarantined, columns=QUARANTINE_COLUMNS + QUARANTINE_PATH_COLUMNS[1:])
