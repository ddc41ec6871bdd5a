"""Write a volume as a classic single-frame MR DICOM series, the way a scanner export looks.

Geometry convention (shared by every phantom cohort and by the ingest tests):
``volume[i, j, k]`` is column ``i``, row ``j`` of slice ``k``; ``affine_lps`` maps ``(i, j, k, 1)``
to patient LPS millimetres. Its first column is the row direction cosine times the column
spacing, its second the column direction cosine times the row spacing, its third the slice
normal times the slice spacing, its fourth the position of the first voxel of slice 0.
The NIfTI (RAS) affine of the same voxels is ``LPS_TO_RAS @ affine_lps`` (``mrissl.geometry``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


def deterministic_uid(*parts: object) -> str:
    """A valid DICOM UID derived from ``parts`` so the same seed gives the same UIDs."""
    return generate_uid(prefix="1.2.826.0.1.3680043.10.1234.", entropy_srcs=[str(p) for p in parts])


def to_stored_values(volume: np.ndarray, vendor_scale: float) -> tuple[np.ndarray, float, float]:
    """Quantise a float volume to uint16 stored values plus RescaleSlope/Intercept, as scanners do."""
    scaled = np.clip(volume * vendor_scale, 0, None)
    top = float(scaled.max()) or 1.0
    slope = top / 4095.0  # 12-bit range, the common MR BitsStored
    stored = np.round(scaled / slope).astype(np.uint16)
    return stored, slope, 0.0


def write_series(
    volume: np.ndarray,
    affine_lps: np.ndarray,
    out_dir: Path,
    header: dict[str, object],
    *,
    vendor_scale: float = 1.0,
    file_prefix: str = "IM",
    first_instance: int = 0,
) -> list[Path]:
    """Write ``volume`` (i, j, k) as one DICOM file per slice in ``out_dir``; return the paths.

    ``header`` holds DICOM keywords (PatientName, SeriesInstanceUID, RepetitionTime, ...) set on
    every slice, and private elements keyed ``(group, private creator, element offset)`` with a
    ``(VR, value)`` (e.g. ``(0x0019, "SIEMENS MR HEADER", 0x0C): ("IS", 1000)``). Geometry tags
    (orientation, position, spacing, thickness) come from ``affine_lps``. A second volume of the same
    series (another b-value) is written with ``first_instance`` past the first one's files.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stored, slope, intercept = to_stored_values(volume, vendor_scale)
    col_step, row_step, slice_step = affine_lps[:3, 0], affine_lps[:3, 1], affine_lps[:3, 2]
    col_spacing, row_spacing = np.linalg.norm(col_step), np.linalg.norm(row_step)
    slice_spacing = float(np.linalg.norm(slice_step))
    orientation = np.concatenate([col_step / col_spacing, row_step / row_spacing])
    series_uid = str(header["SeriesInstanceUID"])
    paths = []
    for k in range(stored.shape[2]):
        position = affine_lps[:3, 3] + k * slice_step
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
        ds.file_meta.MediaStorageSOPInstanceUID = deterministic_uid(series_uid, first_instance + k)
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = MR_IMAGE_STORAGE
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.Modality = "MR"
        for keyword, value in header.items():
            if value is None:
                continue
            if isinstance(keyword, tuple):
                group, creator, offset = keyword
                ds.private_block(group, creator, create=True).add_new(offset, *value)
            else:
                setattr(ds, keyword, value)
        ds.InstanceNumber = first_instance + k + 1
        ds.ImageOrientationPatient = [round(float(v), 6) for v in orientation]
        ds.ImagePositionPatient = [round(float(v), 4) for v in position]
        ds.SliceLocation = round(float(np.dot(position, np.cross(orientation[:3], orientation[3:]))), 4)
        ds.PixelSpacing = [round(float(row_spacing), 5), round(float(col_spacing), 5)]
        ds.SliceThickness = header.get("SliceThickness", round(slice_spacing, 4))
        ds.SpacingBetweenSlices = round(slice_spacing, 4)
        ds.Rows, ds.Columns = stored.shape[1], stored.shape[0]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = 0
        ds.RescaleSlope = f"{slope:.6g}"
        ds.RescaleIntercept = f"{intercept:.6g}"
        ds.RescaleType = "US"
        # DICOM pixel data is (rows, columns): rows run along j, columns along i.
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).tobytes()
        path = out_dir / f"{file_prefix}{first_instance + k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def read_header(path: Path) -> pydicom.Dataset:
    """The header of one DICOM file without its pixel data (fast, for indexing)."""
    return pydicom.dcmread(path, stop_before_pixels=True)
