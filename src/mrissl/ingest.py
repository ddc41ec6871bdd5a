"""Ingest a folder of DICOM files (any depth): one de-identified NIfTI and manifest row per series.

Three steps, each a rule so a cluster can fan the middle one out:

1. :func:`index_dicom` reads every file's header (no pixels) and gives it salted series/patient
   keys and a shard (salted patient hash modulo the shard count); files that are not usable DICOM
   at all get a reason instead.
2. :func:`ingest_shard` checks and converts the series of one shard's patients with dcm2niix,
   one series at a time, and writes one manifest row per series.
3. :func:`merge_manifest` concatenates the shards and checks that every input file is accounted
   for exactly once, in the manifest (``n_files``) or in the quarantine table (one row per file).

Nothing crashes on bad input: a file or series that cannot be used is quarantined with a short
stable reason code and a detail (``"truncated: ..."``).

De-identification (DICOM PS3.15 Basic Application Level Confidentiality Profile, see
:mod:`mrissl.deid`): the manifest keeps only the header fields in :data:`HEADER_SOURCES`, an
allow-list; patient, study and series are salted keys of their IDs; the study date is cut to its
year; the series description and protocol name (the profile's Clean Descriptors Option) and
dcm2niix's messages are cleaned of every identifying value of the same file; the b-value in
vendors' private tags is decoded into ``b_value`` (the Retain Safe Private Option), no private
value is copied; the NIfTI text header fields are blanked and dcm2niix writes no sidecar.

Source paths: a folder is often named after its patient, so no path below ``data.root`` is
written under ``results/``. The file index, which the shard jobs need to find their files, holds
each file's path relative to ``data.root`` and its ``file_key`` (a salted hash of that path); it
lives outside ``results/``, in ``private/ingest/file_index.tsv``, as sensitive as the raw data and
never to be shared with the results. The quarantine under ``results/`` names each bad file by its
``file_key`` only: to find it, look the key up in the private index
(``grep KEY private/ingest/file_index.tsv``). The index, not the log, is where the mapping lives:
it is there anyway (the shards read it), it is one stable table for a whole run where a log is
one job's and is overwritten, and logs get pasted into bug reports, so ingest's own log lines
name keys, not paths (pydicom's warnings may still name a file: logs/ stays with the raw data).
"""

from __future__ import annotations

import csv
import gc
import gzip
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.pixels import get_decoder
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from mrissl.deid import identifying_values, is_identifying, redactor
from mrissl.manifest import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, file_key, salted_key

log = logging.getLogger(__name__)

# ``path`` is relative to data.root: the index lives outside results/ (module docstring).
INDEX_COLUMNS = ["file_key", "path", "series_key", "patient_key", "shard", "reason"]

# The allow-list: manifest column -> the one header attribute it is read from; nothing else of a
# header reaches results/. PS3.15 Table E.1-1 lists none of these but the two descriptors, which
# are cleaned (tests/test_deid.py checks it). Besides them: b_value (public or decoded private
# tags, b_value()) and study_year (the year of the study date, acquisition_fields()).
TEXT_HEADER_SOURCES = {
    "series_description": "SeriesDescription",
    "protocol_name": "ProtocolName",
    "manufacturer": "Manufacturer",
    "scanning_sequence": "ScanningSequence",
    "image_type": "ImageType",
}
NUMBER_HEADER_SOURCES = {
    "field_strength_t": "MagneticFieldStrength",
    "repetition_time_ms": "RepetitionTime",
    "echo_time_ms": "EchoTime",
    "inversion_time_ms": "InversionTime",
    "flip_angle_deg": "FlipAngle",
}
HEADER_SOURCES = {**TEXT_HEADER_SOURCES, **NUMBER_HEADER_SOURCES}

# Transfer syntaxes this dcm2niix build (OpenJPEG + CharLS) decodes itself. Others that pydicom
# can decode (Deflated Explicit VR, for one) are rewritten as Explicit VR Little Endian first.
DCM2NIIX_TRANSFER_SYNTAXES = frozenset({
    "1.2.840.10008.1.2",       # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",     # Explicit VR Little Endian
    "1.2.840.10008.1.2.2",     # Explicit VR Big Endian
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",     # RLE Lossless
})

# b-value: the standard attribute, else the vendors' private ones on classic (non-enhanced) files:
# (group, element offset in the creator's block, private creator).
GE_PARAMETERS = "GEMS_PARM_01"
PRIVATE_B_VALUES = [
    (0x0019, 0x0C, "SIEMENS MR HEADER"),
    (0x2001, 0x03, "Philips Imaging DD 001"),
    (0x0043, 0x39, GE_PARAMETERS),  # (0043,1039): the b-value is the first of its values
]
# GE adds this bias to the b-value in (0043,1039) for multi-b and synthetic DWI (the bias itself is
# in (0043,107F)); dcm2niix takes the b-value modulo it (rordenlab/dcm2niix issue #602, PR #603;
# its earlier modulo 10000 turned b >= 10000 into wrong values).
GE_B_VALUE_BIAS = 1_000_000_000

# Slice positions closer than this (mm) are duplicates; gaps may differ from their median by
# this much plus 1% before the spacing counts as non-uniform.
POSITION_TOLERANCE_MM = 0.01

PLANES = ("sagittal", "coronal", "axial")  # by the world axis (x, y, z) the slice normal is closest to


def find_dcm2niix() -> str:
    """The dcm2niix executable: the one the PyPI package ships, else one beside this Python, else PATH."""
    try:
        import dcm2niix

        if Path(dcm2niix.bin).is_file():
            return dcm2niix.bin
    except ImportError:
        pass
    found = shutil.which("dcm2niix", path=str(Path(sys.executable).parent)) or shutil.which("dcm2niix")
    if found is None:
        raise FileNotFoundError(
            "dcm2niix not found: install the pinned PyPI package (`pip install dcm2niix`) into this environment"
        )
    return found


# ---------------------------------------------------------------------------------------------
# Reading headers


def read_dicom(path: str | Path, *, pixels: bool) -> tuple[pydicom.Dataset | None, str]:
    """Read one file with pydicom; return ``(dataset, "")`` or ``(None, reason)``.

    A file is truncated when its last element's declared length runs past the end of the file
    (pydicom silently keeps the short value), or when pydicom reads no element at all (a cut
    encapsulated pixel element loses the whole data set). Bytes after the last element (padding)
    are tolerated; a file cut exactly between elements lacks its pixels and is quarantined as
    such. A deflated data set is parsed from an inflated copy, so there zlib is the judge.
    """
    try:
        with open(path, "rb") as fp:
            has_magic = fp.read(132)[128:] == b"DICM"
            fp.seek(0)
            try:
                ds = pydicom.dcmread(fp, force=True, stop_before_pixels=not pixels)
            except Exception as exc:  # pydicom raises many kinds on garbage
                return None, f"unreadable: {type(exc).__name__}: {exc}" if has_magic else "not_dicom: no DICOM header"
            stopped_at = fp.tell()
    except OSError as exc:
        return None, f"unreadable: {exc.strerror}"
    if len(ds) == 0:
        if has_magic:
            return None, "truncated: no complete data set after the file meta"
        return None, "not_dicom: no DICOM header"
    if not has_magic and "SOPClassUID" not in ds:
        return None, "not_dicom: no DICOM header"
    last = ds.get_item(max(ds.keys()))
    deflated = ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
    if isinstance(last, RawDataElement) and last.length != 0xFFFFFFFF and not deflated:
        end = last.value_tell + last.length
        if end > stopped_at:
            return None, f"truncated: element {last.tag} should end at byte {end}, the file ends at {stopped_at}"
    return ds, ""


# ---------------------------------------------------------------------------------------------
# Step 1: the file index


def shard_of(patient_key: str, shards: int) -> str:
    return f"{int(patient_key, 16) % shards:03d}"


def index_row(path: str, below_root: str, salt: str, shards: int) -> tuple[tuple[str, ...], bool]:
    """The index row of the file at ``path`` and whether its path below the root names its patient.

    The row is (file_key, below_root, series_key, patient_key, shard, "") for a usable header,
    else (file_key, below_root, "", "", "", reason).
    """
    keys = (file_key(salt, below_root), below_root)
    ds, reason = read_dicom(path, pixels=False)
    if ds is None:
        return (*keys, "", "", "", reason), False
    try:  # pydicom converts values lazily: a malformed one raises only here
        series_uid, patient_id = str(ds.get("SeriesInstanceUID") or ""), str(ds.get("PatientID") or "")
        name_parts = re.split(r"[\^= ]+", str(ds.get("PatientName") or ""))
    except Exception as exc:
        reason = f"unreadable: {type(exc).__name__} in SeriesInstanceUID, PatientID or PatientName"
        return (*keys, "", "", "", reason), False
    if not series_uid:
        return (*keys, "", "", "", "no_series_uid: the header has no SeriesInstanceUID (DICOMDIR, report, ...)"), False
    patient_key = salted_key(salt, patient_id)
    names_patient = any(len(v) >= 4 and v.lower() in below_root.lower() for v in [patient_id, *name_parts])
    return (*keys, salted_key(salt, series_uid), patient_key, shard_of(patient_key, shards), ""), names_patient


SNAKEMAKE_TIMESTAMP = ".snakemake_timestamp"


def walk_files(root: str) -> Iterator[str]:
    """Every file under ``root``, in a stable order (folders and names sorted), without listing them all first.

    Snakemake's own marker in a directory output (``.snakemake_timestamp``) is not raw data and is skipped.
    """
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        for name in sorted(names):
            if name != SNAKEMAKE_TIMESTAMP:
                yield os.path.join(folder, name)


def index_dicom(root: str | Path, salt: str, shards: int, index_path: str | Path, progress_every: int = 2000) -> None:
    """Write the file index (INDEX_COLUMNS) of every file under ``root`` to ``index_path``.

    Rows are streamed to the TSV, so memory stays flat however many files there are. Paths are
    written relative to ``root``; they name patients where the export's folders do (a warning
    counts such files), so ``index_path`` belongs outside results/ (module docstring). Reads
    headers only.
    """
    root = str(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"DICOM root {root!r} is not a directory: set data.root in the config")
    Path(index_path).parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    n = unusable = naming_paths = 0
    series, patients = set(), set()
    with open(index_path, "w", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(INDEX_COLUMNS)
        for n, path in enumerate(walk_files(root), 1):
            row, names_patient = index_row(path, Path(os.path.relpath(path, root)).as_posix(), salt, shards)
            writer.writerow(row)
            naming_paths += names_patient
            fields = dict(zip(INDEX_COLUMNS, row))
            if fields["reason"]:
                unusable += 1
            else:
                series.add(fields["series_key"])
                patients.add(fields["patient_key"])
            if n % progress_every == 0:
                log.info("indexed %d files (%.0f files/s)", n, n / (time.perf_counter() - start))
    if naming_paths:
        log.warning("%d files lie in folders or files named after their patient's ID or name; those paths "
                    "stay in %s (keep it with the raw data) and appear nowhere under results/",
                    naming_paths, index_path)
    log.info("indexed %d files under %s in %.1f s: %d usable in %d series of %d patients, %d unusable",
             n, root, time.perf_counter() - start, n - unusable, len(series), len(patients), unusable)


def read_text_table(path: str | Path) -> pd.DataFrame:
    """A TSV (index, shard manifest, quarantine) with every value as text, so merging rewrites it exactly."""
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def read_index_rows(index_path: str | Path, keep) -> tuple[pd.DataFrame, int]:
    """The rows of the file index for which ``keep(rows)`` is true, and the number of rows in all.

    Read in chunks, so memory grows with the rows kept, not with the index.
    """
    kept, total = [pd.DataFrame(columns=INDEX_COLUMNS)], 0
    for chunk in pd.read_csv(index_path, sep="\t", dtype=str, keep_default_na=False, chunksize=200_000):
        kept.append(chunk[keep(chunk)])
        total += len(chunk)
    return pd.concat(kept, ignore_index=True), total


# ---------------------------------------------------------------------------------------------
# Step 2: checking and converting the series of one shard


@dataclass
class SeriesResult:
    manifest_rows: list[dict]   # one per volume (a diffusion series may hold several b-values); none when quarantined
    quarantine: list[tuple[str, str]]  # (file_key, reason), one per file that did not make the series


def volume_key(series_key: str, b_value: float) -> str:
    """The key of one b-value's volume of a series holding several (its own manifest row)."""
    return f"{series_key}-b{b_value:g}"


def read_labels(paths: Sequence[str | Path], salt: str) -> dict[str, str]:
    """series_key (or ``volume_key`` where a row gives a b_value) -> verified label, from TSVs with
    columns SeriesInstanceUID and label, and optionally b_value for the volumes of a multi-b series."""
    labels: dict[str, str] = {}
    for path in paths:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        missing = {"SeriesInstanceUID", "label"} - set(table.columns)
        if missing:
            raise ValueError(
                f"{path}: series labels need columns SeriesInstanceUID and label; missing {sorted(missing)}"
            )
        b_values = table["b_value"] if "b_value" in table.columns else [""] * len(table)
        for uid, b, label in zip(table["SeriesInstanceUID"], b_values, table["label"]):
            if not label:
                continue
            key = salted_key(salt, uid)
            try:
                labels[volume_key(key, float(b)) if b else key] = label
            except ValueError:
                raise ValueError(f"{path}: b_value {b!r} of series {uid} is not a number") from None
    return labels


def split_by_b_value(datasets: list[tuple[str, pydicom.Dataset]]) -> list[tuple[float | None, list]]:
    """A series' files grouped into volumes by b-value when it holds several (b=0 and trace images of
    one diffusion acquisition, as GE, Philips and Siemens export them); else one group (b None)."""
    by_b: dict[float | None, list] = {}
    for path, ds in datasets:
        by_b.setdefault(b_value(ds), []).append((path, ds))
    if len(by_b) < 2 or None in by_b:
        return [(None, datasets)]
    return sorted(by_b.items())


def pixel_problem(ds: pydicom.Dataset) -> str:
    """Why the pixels of a fully read file cannot be converted, or ""."""
    if "PixelData" not in ds:
        return "no_pixel_data: the file has no PixelData element"
    syntax = UID(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2"))
    if syntax in DCM2NIIX_TRANSFER_SYNTAXES or pydicom_decodes(syntax):
        return ""
    return f"unsupported_compression: {syntax.name} ({syntax}) is decoded by neither dcm2niix nor pydicom"


def pydicom_decodes(syntax: UID) -> bool:
    try:
        return get_decoder(syntax).is_available
    except NotImplementedError:
        return False


def geometry_problem(datasets: list[pydicom.Dataset]) -> str:
    """Why these single-frame slices do not make one regular volume, or "" (checks only)."""
    for keyword in ["ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing", "Rows", "Columns"]:
        lacking = sum(keyword not in ds for ds in datasets)
        if lacking:
            return f"missing_geometry: {lacking} of {len(datasets)} files lack {keyword}"
    orientations = np.array([[float(v) for v in ds.ImageOrientationPatient] for ds in datasets])
    if not np.allclose(orientations, orientations[0], atol=1e-4):
        return "inconsistent_geometry: ImageOrientationPatient differs within the series"
    spacings = np.array([[float(v) for v in ds.PixelSpacing] for ds in datasets])
    if not np.allclose(spacings, spacings[0], rtol=1e-4):
        return "inconsistent_geometry: PixelSpacing differs within the series"
    matrices = {(int(ds.Rows), int(ds.Columns)) for ds in datasets}
    if len(matrices) > 1:
        return f"inconsistent_geometry: matrices {sorted(matrices)} within the series"
    if len(datasets) < 2:
        return ""
    normal = np.cross(orientations[0, :3], orientations[0, 3:])
    depths = np.sort([float(np.dot(normal, [float(v) for v in ds.ImagePositionPatient])) for ds in datasets])
    gaps = np.diff(depths)
    duplicates = int((gaps < POSITION_TOLERANCE_MM).sum())
    if duplicates:
        return f"inconsistent_geometry: {duplicates} duplicate slice positions (more than one volume?)"
    median = float(np.median(gaps))
    if np.abs(gaps - median).max() > POSITION_TOLERANCE_MM + 0.01 * median:
        return f"inconsistent_geometry: non-uniform slice spacing ({gaps.min():.3f} to {gaps.max():.3f} mm)"
    return ""


def _number(value: object) -> float | None:
    """A float from a DICOM value (number, multi-value, or bytes of an unknown private VR)."""
    if value is None or value == "":
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace").strip("\x00 ").split("\\")[0]
    elif isinstance(value, (list, pydicom.multival.MultiValue)):
        value = value[0] if len(value) else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def b_value(ds: pydicom.Dataset) -> float | None:
    """The b-value (s/mm^2): DiffusionBValue, else the first vendor tag of PRIVATE_B_VALUES present."""
    if "DiffusionBValue" in ds:
        return _number(ds.DiffusionBValue)
    for group, offset, creator in PRIVATE_B_VALUES:
        try:
            value = _number(ds.get_private_item(group, offset, creator).value)
        except KeyError:
            continue
        if creator == GE_PARAMETERS and value is not None:
            value %= GE_B_VALUE_BIAS
        return value
    return None


def acquisition_fields(ds: pydicom.Dataset, redact) -> dict:
    """The manifest's header columns from one slice (HEADER_SOURCES); text redacted, the study date as a year."""

    def text(keyword: str) -> str:
        value = ds.get(keyword, "")
        if isinstance(value, (list, pydicom.multival.MultiValue)):
            value = "\\".join(str(v) for v in value)
        value = str(value or "").strip()
        # Only the profile's descriptors are free text; coded values (Manufacturer, ImageType) stay
        # whole (an institution called "... Medical Center" must not cut "MEDICAL" out of a vendor).
        return redact(value) if is_identifying(pydicom.datadict.tag_for_keyword(keyword)) else value

    study_date = str(ds.get("StudyDate") or ds.get("SeriesDate") or ds.get("AcquisitionDate") or "")
    return {
        **{column: text(keyword) for column, keyword in TEXT_HEADER_SOURCES.items()},
        **{column: _number(ds.get(keyword)) for column, keyword in NUMBER_HEADER_SOURCES.items()},
        "b_value": b_value(ds),
        "study_year": study_date[:4] if re.fullmatch(r"\d{8}.*", study_date) else "",
    }


def acquisition_plane(affine: np.ndarray) -> str:
    """axial | sagittal | coronal: the world axis closest to the slice normal."""
    normal = np.cross(affine[:3, 0], affine[:3, 1])
    return PLANES[int(np.argmax(np.abs(normal)))]


def nifti_fields(path: Path) -> dict:
    img = nib.load(path)
    return {
        "shape": ",".join(str(n) for n in img.shape[:3]),
        "spacing_mm": ",".join(f"{float(z):.6g}" for z in img.header.get_zooms()[:3]),
        "orientation": "".join(nib.aff2axcodes(img.affine)),
        "acquisition_plane": acquisition_plane(img.affine),
    }


def write_deidentified_nifti(converted: Path, destination: Path) -> None:
    """Copy dcm2niix's .nii to ``destination`` (.nii.gz) with its free-text header fields blanked.

    dcm2niix puts ImageComments in aux_file and acquisition notes in descrip. The header is
    patched in place, not re-saved through nibabel, so the stored values and scaling stay exact;
    gzip without a timestamp keeps the file byte-identical across runs; level 1 (nibabel's default)
    because compression dominates the conversion time.
    """
    raw = converted.read_bytes()
    header = nib.Nifti1Header.from_fileobj(io.BytesIO(raw))
    for field in ("descrip", "aux_file", "db_name"):
        header[field] = b""
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(gzip.compress(header.binaryblock + raw[header.sizeof_hdr:], compresslevel=1, mtime=0))


def run_dcm2niix(dcm2niix: str, in_dir: Path, out_dir: Path, name: str) -> subprocess.CompletedProcess:
    # -g i: ignore a user's ~/.dcm2nii.ini; -b n: no JSON sidecar (it would copy header values);
    # -c "": no ImageComments in aux_file; -x i: keep 3D acquisitions in their acquired axis order
    # (slices last, as for 2D), so the NIfTI's third axis is the slice normal; -z n: we compress
    # (deterministically) ourselves.
    command = [dcm2niix, "-g", "i", "-b", "n", "-c", "", "-x", "i", "-z", "n", "-d", "0", "-w", "1", "-v", "0",
               "-f", name, "-o", str(out_dir), str(in_dir)]
    return subprocess.run(command, capture_output=True, text=True, errors="replace")


class Quarantined(Exception):
    """A series that cannot be used; the message is its quarantine reason."""


def ingest_series(
    series_key: str,
    patient_key: str,
    files: dict[str, str],
    *,
    salt: str,
    min_slices: int,
    source: str,
    labels: dict[str, str],
    nifti_dir: Path,
    dcm2niix: str,
) -> SeriesResult:
    """Check and convert one series (``files``: source path -> file_key); never raises for bad input.

    Files that cannot be read or whose pixels cannot be decoded are quarantined one by one; the
    rest make the series, which is then checked and converted as a whole (or quarantined whole). A
    series holding several b-values becomes one volume per b-value (``split_by_b_value``), each
    checked, converted and keyed (``volume_key``) on its own.
    """
    usable: list[tuple[str, pydicom.Dataset]] = []
    quarantined: list[tuple[str, str]] = []
    for path, key in files.items():
        ds, reason = read_dicom(path, pixels=True)
        reason = reason or pixel_problem(ds)
        if reason:
            quarantined.append((key, reason))
        else:
            usable.append((path, ds))
    if not usable:
        return SeriesResult([], quarantined)
    rows = []
    for b, volume in split_by_b_value(usable):
        key = series_key if b is None else volume_key(series_key, b)
        row, reason = ingest_volume(key, patient_key, volume, salt=salt, min_slices=min_slices, source=source,
                                    labels=labels, nifti_dir=nifti_dir, dcm2niix=dcm2niix)
        if row is None:
            quarantined += [(files[path], reason) for path, _ in volume]
        else:
            rows.append(row)
    return SeriesResult(rows, quarantined)


def ingest_volume(
    series_key: str, patient_key: str, usable: list[tuple[str, pydicom.Dataset]], *, salt: str, min_slices: int,
    source: str, labels: dict[str, str], nifti_dir: Path, dcm2niix: str,
) -> tuple[dict | None, str]:
    """(manifest row, "") for one volume's readable files, or (None, the reason to quarantine them)."""
    datasets = [ds for _, ds in usable]
    redact = redactor(identifying_values(datasets))
    try:
        check_series(datasets, min_slices)
        nifti_path = nifti_dir / patient_key / f"{series_key}.nii.gz"
        convert_series(usable, nifti_path, dcm2niix, redact)
        first = min(datasets, key=lambda ds: int(ds.get("InstanceNumber") or 0))
        return {
            "patient_key": patient_key,
            "study_key": salted_key(salt, first.get("StudyInstanceUID", "")),
            "series_key": series_key,
            "source": source,
            "label": labels.get(series_key, ""),
            **acquisition_fields(first, redact),
            "n_files": len(usable),
            **nifti_fields(nifti_path),
            "nifti_path": str(nifti_path),
            "mask_path": "",
            "group_key": patient_key,
        }, ""
    except Quarantined as exc:
        return None, str(exc)
    except Exception as exc:  # a malformed value no check foresaw must not stop the other series
        reason = f"ingest_error: {type(exc).__name__}: {redact(str(exc))}"
        log.warning("series %s: %s", series_key, reason)
        return None, reason


def check_series(datasets: list[pydicom.Dataset], min_slices: int) -> None:
    """Raise Quarantined when the slices are too few or do not make one regular volume."""
    frames = [int(ds.get("NumberOfFrames") or 1) for ds in datasets]
    if sum(frames) < min_slices:
        raise Quarantined(f"too_few_slices: {sum(frames)} < min_slices {min_slices}")
    # Enhanced (multi-frame) objects carry per-frame geometry; dcm2niix checks those itself.
    problem = geometry_problem(datasets) if max(frames) == 1 else ""
    if problem:
        raise Quarantined(problem)


def convert_series(usable: list[tuple[str, pydicom.Dataset]], nifti_path: Path, dcm2niix: str, redact) -> None:
    """Convert the files with dcm2niix (through a folder of links) into one de-identified NIfTI."""
    name = nifti_path.name.removesuffix(".nii.gz")
    with tempfile.TemporaryDirectory(prefix="mrissl-ingest-") as tmp:
        in_dir, out_dir = Path(tmp, "in"), Path(tmp, "out")
        in_dir.mkdir()
        out_dir.mkdir()
        for n, (path, ds) in enumerate(usable):
            link = in_dir / f"{n:06d}.dcm"
            if UID(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2")) in DCM2NIIX_TRANSFER_SYNTAXES:
                link.symlink_to(os.path.abspath(path))
                continue
            try:
                write_native_copy(ds, link)
            except Exception as exc:  # a pydicom decoder failing on corrupt data
                raise Quarantined(f"unsupported_compression: pydicom could not decode it ({type(exc).__name__})")
        proc = run_dcm2niix(dcm2niix, in_dir, out_dir, name)
        if proc.stderr.strip():
            log.warning("dcm2niix, series %s: %s", name, redact(proc.stderr.strip()))
        volumes = sorted(out_dir.glob("*.nii"))
        if proc.returncode != 0 or not volumes:
            log.warning("dcm2niix, series %s, output: %s", name, redact(proc.stdout.strip()))
            last_line = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
            last_line = redact(last_line.replace(f"{in_dir}{os.sep}", ""))  # the temporary folder's name varies
            raise Quarantined(f"dcm2niix_failed: exit {proc.returncode}: {last_line}")
        if len(volumes) > 1:
            raise Quarantined(f"dcm2niix_multiple_volumes: dcm2niix wrote {len(volumes)} images for one series")
        shape = nib.load(volumes[0]).shape
        if len(shape) > 3 and int(np.prod(shape[3:])) > 1:
            raise Quarantined(f"dcm2niix_multiple_volumes: dcm2niix wrote a 4D image of shape {shape}")
        write_deidentified_nifti(volumes[0], nifti_path)


def write_native_copy(ds: pydicom.Dataset, path: Path) -> None:
    """Save ``ds`` as Explicit VR Little Endian (decoding its pixels with pydicom when compressed)."""
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress()
    else:  # e.g. Deflated Explicit VR Little Endian: the dataset, not the pixels, was compressed
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)


def shard_series(index_path: str | Path, shard: str, root: str | Path) -> list[tuple[str, str, dict[str, str]]]:
    """(series_key, patient_key, {source path: file_key}) of each series of ``shard``'s usable files, by key.

    The index is read row by row: a shard job holds its own files' paths and keys, not the index's
    rows in a table (pandas strings of every column), which grew the job with the export.
    """
    series: dict[str, tuple[str, dict[str, str]]] = {}
    with open(index_path, newline="") as index:
        rows = csv.reader(index, delimiter="\t")
        column = {name: n for n, name in enumerate(next(rows))}
        for row in rows:
            if row[column["shard"]] == shard and not row[column["reason"]]:
                _, files = series.setdefault(row[column["series_key"]], (row[column["patient_key"]], {}))
                files[os.path.join(root, row[column["path"]])] = row[column["file_key"]]
    return [(key, patient_key, files) for key, (patient_key, files) in sorted(series.items())]


def ingest_shard(
    index_path: str | Path,
    shard: str,
    nifti_dir: str | Path,
    *,
    salt: str,
    min_slices: int,
    source: str,
    root: str | Path,
    label_tables: Sequence[str | Path] = (),
    threads: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convert the series of ``shard``'s patients; return (manifest, quarantine) tables.

    The index's paths are relative to ``root`` (data.root). NIfTI files go to
    ``nifti_dir/<patient_key>/<series_key>.nii.gz``. Series run ``threads`` at a time (dcm2niix
    and gzip release the GIL).
    """
    nifti_dir = Path(nifti_dir)
    nifti_dir.mkdir(parents=True, exist_ok=True)
    labels = read_labels(label_tables, salt)
    groups = shard_series(index_path, shard, root)
    log.info("shard %s: %d files in %d series", shard, sum(len(files) for *_, files in groups), len(groups))
    dcm2niix = find_dcm2niix()
    start = time.perf_counter()

    def one(group):
        series_key, patient_key, files = group
        result = ingest_series(series_key, patient_key, files, salt=salt, min_slices=min_slices, source=source,
                               labels=labels, nifti_dir=nifti_dir, dcm2niix=dcm2niix)
        # What a series leaves behind must not pile up with the shard's series. The re module caches
        # compiled patterns (up to 512), each series' redaction pattern (its UIDs, names, dates) among
        # them; emptying the cache only makes other patterns compile again. pydicom's private-tag
        # lookups (the b-value) tie each file, pixels included, into a reference cycle, freed by a
        # full collection only, which comes the later the more objects a job holds.
        re.purge()
        gc.collect()
        return result

    rows, quarantine = [], []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for n, result in enumerate(pool.map(one, groups), 1):
            rows.extend(result.manifest_rows)
            quarantine.extend(result.quarantine)
            if n % 50 == 0 or n == len(groups):
                elapsed = time.perf_counter() - start
                log.info("shard %s: %d/%d series (%.1f series/s), %d converted, %d files quarantined",
                         shard, n, len(groups), n / max(elapsed, 1e-9), len(rows), len(quarantine))
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    quarantined = pd.DataFrame(quarantine, columns=QUARANTINE_COLUMNS).sort_values("file_key", ignore_index=True)
    return manifest, quarantined


# ---------------------------------------------------------------------------------------------
# Step 3: merging the shards


def merge_manifest(
    index_path: str | Path,
    manifests: list[pd.DataFrame],
    quarantines: list[pd.DataFrame],
    root: str | Path,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The full manifest and quarantine (index-level rows too); fails only on an empty manifest."""
    non_empty = [m for m in manifests if len(m)] or [pd.DataFrame(columns=MANIFEST_COLUMNS)]
    manifest = pd.concat(non_empty, ignore_index=True)
    manifest = manifest.sort_values(["patient_key", "study_key", "series_key"], ignore_index=True)
    unusable_files, indexed = read_index_rows(index_path, lambda rows: rows["reason"] != "")
    quarantine = pd.concat([unusable_files[QUARANTINE_COLUMNS], *quarantines], ignore_index=True)
    quarantine = quarantine.sort_values("file_key", ignore_index=True)
    accounted = int(pd.to_numeric(manifest["n_files"]).sum()) + len(quarantine)
    if accounted != indexed:
        raise RuntimeError(
            f"ingest bug: {indexed} files indexed under {root} but {accounted} accounted for "
            f"(manifest n_files + quarantine rows); re-run the ingest rules"
        )
    reasons = quarantine["reason"].str.split(":").str[0].value_counts().to_dict()
    log.info("%d series in the manifest; %d files quarantined %s", len(manifest), len(quarantine), reasons)
    if manifest.empty:
        found = f"all {indexed} files were quarantined (reasons: {reasons})" if indexed else "it holds no files"
        raise ValueError(
            f"No usable series under {root}: {found}. "
            "Point data.root at a folder of MR DICOM series, or lower ingest.min_slices."
        )
    return manifest, quarantine
