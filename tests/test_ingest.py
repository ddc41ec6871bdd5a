"""Ingest: geometry of the converted NIfTI, quarantine of broken input, de-identification, sharding."""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import DeflatedExplicitVRLittleEndian, JPEG2000Lossless, MPEG2MPML, RLELossless

from mrissl.ingest import (
    acquisition_fields,
    b_value,
    find_dcm2niix,
    index_dicom,
    ingest_shard,
    merge_manifest,
    read_text_table,
    redactor,
    shard_of,
)
from mrissl.manifest import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, salted_key, write_table
from mrissl.geometry import LPS_TO_RAS
from mrissl.phantoms.dicom import deterministic_uid, to_stored_values, write_series

SALT = "test-salt"
SECRETS = {
    "PatientName": "DOEWRIGHT^JOHNATHAN",
    "PatientID": "PID-731904",
    "PatientBirthDate": "19610417",
    "AccessionNumber": "ACC-5550192",
    "InstitutionName": "Saint Hidden Hospital",
}


def header(patient: int, series: int, **extra) -> dict:
    """Headers of a realistic export: identifying values included, so de-identification is tested."""
    return {
        "PatientName": f"DOEWRIGHT^JOHNATHAN{patient}",
        "PatientID": f"PID-73190{patient}",
        "PatientBirthDate": "19610417",
        "AccessionNumber": f"ACC-555019{patient}",
        "InstitutionName": "Saint Hidden Hospital",
        "StudyInstanceUID": deterministic_uid("study", patient),
        "SeriesInstanceUID": deterministic_uid("series", patient, series),
        "SeriesNumber": series + 1,
        "SeriesDescription": "t1_se_tra",
        "Manufacturer": "SIEMENS",
        "MagneticFieldStrength": 3.0,
        "RepetitionTime": 500.0,
        "EchoTime": 12.0,
        "FlipAngle": 90.0,
        "StudyDate": "20190312",
        **extra,
    }


def asymmetric_volume(shape=(12, 10, 6), seed=0) -> np.ndarray:
    """Values that change along every axis (a flip or a swap shows), plus a bright corner block."""
    i, j, k = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    volume = 10.0 + 3 * i + 7 * j + 13 * k + np.random.default_rng(seed).random(shape)
    volume[:3, :2, :2] += 300
    return volume


def rotation(ax: float, az: float) -> np.ndarray:
    """Rotation about x by ``ax`` then about z by ``az`` (degrees)."""
    a, c = np.radians(ax), np.radians(az)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ rx


def affine_lps(directions: np.ndarray, spacing=(0.9, 1.1, 3.0), origin=(-40.0, -30.0, 12.5)) -> np.ndarray:
    """LPS affine whose columns are the unit directions of i, j, k times the spacings."""
    affine = np.eye(4)
    affine[:3, :3] = np.asarray(directions, float) * np.asarray(spacing)
    affine[:3, 3] = origin
    return affine


# Columns: direction of i (along a row), of j (down the columns), of k (slice normal), in LPS.
GEOMETRIES = {
    "axial": (np.eye(3), "axial"),
    "sagittal": (np.array([[0, 1, 0], [0, 0, -1], [1, 0, 0]]).T, "sagittal"),
    "coronal": (np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]]).T, "coronal"),
    "oblique": (rotation(20, 12), "axial"),
}
GEOMETRIES["sagittal_3d"] = GEOMETRIES["sagittal"]  # dcm2niix reorients 3D acquisitions unless told not to


def run_ingest(root: Path, out: Path, *, shards=2, min_slices=3, labels=()):
    """The three ingest steps as the rules run them, tables written under ``out``."""
    index_dicom(root, SALT, shards, out / "file_index.tsv")
    manifests, quarantines = [], []
    for shard in [f"{n:03d}" for n in range(shards)]:
        manifest, quarantine = ingest_shard(out / "file_index.tsv", shard, out / "nifti" / shard, salt=SALT,
                                            min_slices=min_slices, source="dicom", label_tables=labels, threads=2)
        manifests.append(manifest)
        quarantines.append(quarantine)
    manifest, quarantine = merge_manifest(out / "file_index.tsv", manifests, quarantines, root)
    write_table(manifest, out / "manifest.tsv", MANIFEST_COLUMNS)
    write_table(quarantine, out / "quarantine.tsv", QUARANTINE_COLUMNS)
    return read_text_table(out / "file_index.tsv"), manifest, quarantine


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_find_dcm2niix_is_executable():
    assert os.access(find_dcm2niix(), os.X_OK)


@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_converted_nifti_matches_written_volume(tmp_path, name):
    directions, plane = GEOMETRIES[name]
    volume = asymmetric_volume()
    affine = affine_lps(directions)
    acquisition = {"MRAcquisitionType": "3D" if name.endswith("_3d") else "2D"}
    write_series(volume, affine, tmp_path / "dicom" / name, header(1, 0, **acquisition), vendor_scale=2.5)
    _, manifest, quarantine = run_ingest(tmp_path / "dicom", tmp_path / "out")
    assert quarantine.empty and len(manifest) == 1
    row = manifest.iloc[0]
    assert row["acquisition_plane"] == plane
    assert row["n_files"] == 6 and row["shape"] and row["orientation"]

    stored, slope, intercept = to_stored_values(volume, 2.5)
    expected = nib.as_closest_canonical(nib.Nifti1Image(stored * slope + intercept, LPS_TO_RAS @ affine))
    converted = nib.as_closest_canonical(nib.load(row["nifti_path"]))
    np.testing.assert_allclose(converted.affine, expected.affine, atol=1e-3)
    assert converted.shape == expected.shape
    np.testing.assert_allclose(converted.get_fdata(), expected.get_fdata(), atol=1e-3 * stored.max() * slope)
    # The manifest describes the file as written, in its own (dcm2niix) axis order.
    written = nib.load(row["nifti_path"])
    assert row["shape"] == ",".join(map(str, written.shape))
    assert row["orientation"] == "".join(nib.aff2axcodes(written.affine))


def write_broken_folder(root: Path) -> dict[str, str]:
    """One file or series of each broken kind beside a good series; returns {path: expected reason code}."""
    expected = {}
    good = write_series(asymmetric_volume(), affine_lps(np.eye(3)), root / "good", header(1, 0))
    good[0].write_bytes(good[0].read_bytes() + b"\0" * 3)  # trailing padding is not truncation

    junk = root / "misc" / "notes.bin"
    junk.parent.mkdir(parents=True)
    junk.write_bytes(np.random.default_rng(1).bytes(3000))
    expected[str(junk)] = "not_dicom"

    # Cut in half: a small slice is cut inside its header, a larger one inside its pixels.
    for name, shape in [("cut_header", (12, 10, 1)), ("cut_pixels", (64, 64, 1))]:
        [path] = write_series(asymmetric_volume(shape), affine_lps(np.eye(3)), root / name, header(2, len(expected)))
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        expected[str(path)] = "truncated"

    # A cut compressed (encapsulated) pixel element: pydicom loses the whole data set.
    [path] = write_series(asymmetric_volume((64, 64, 1)), affine_lps(np.eye(3)), root / "cut_rle", header(2, 9))
    ds = pydicom.dcmread(path)
    ds.compress(RLELossless)
    ds.save_as(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    expected[str(path)] = "truncated"

    [path] = write_series(asymmetric_volume((12, 10, 1)), affine_lps(np.eye(3)), root / "nopixels", header(2, 10))
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    expected[str(path)] = "no_pixel_data"

    [path] = write_series(asymmetric_volume((12, 10, 1)), affine_lps(np.eye(3)), root / "mpeg", header(2, 11))
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.PixelData = encapsulate([np.random.default_rng(2).bytes(100)])
    ds["PixelData"].VR = "OB"
    ds.save_as(path)
    expected[str(path)] = "unsupported_compression"

    # A syntax dcm2niix decodes, with pixels it cannot: dcm2niix itself fails.
    garbled = write_series(asymmetric_volume((12, 10, 3)), affine_lps(np.eye(3)), root / "garbled", header(2, 12))
    for path in garbled:
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
        ds.PixelData = encapsulate([np.random.default_rng(3).bytes(100)])
        ds["PixelData"].VR = "OB"
        ds.save_as(path)
    expected |= {str(p): "dcm2niix_failed" for p in garbled}

    tilted = write_series(asymmetric_volume(), affine_lps(np.eye(3)), root / "tilted", header(3, 0))
    ds = pydicom.dcmread(tilted[2])
    ds.ImageOrientationPatient = [1, 0, 0, 0, 0.98, 0.198997]
    ds.save_as(tilted[2])
    expected |= {str(p): "inconsistent_geometry" for p in tilted}

    gap = write_series(asymmetric_volume(), affine_lps(np.eye(3)), root / "gap", header(3, 1))
    gap[3].unlink()  # a missing slice: spacing 3, 3, 6, 3
    expected |= {str(p): "inconsistent_geometry" for p in gap if p.exists()}

    doubled = write_series(asymmetric_volume(), affine_lps(np.eye(3)), root / "doubled", header(3, 2))
    ds = pydicom.dcmread(doubled[4])
    ds.ImagePositionPatient = pydicom.dcmread(doubled[3]).ImagePositionPatient
    ds.save_as(doubled[4])
    expected |= {str(p): "inconsistent_geometry" for p in doubled}

    # A value no check foresees (a pixel spacing that is not a number) quarantines its series only.
    malformed = write_series(asymmetric_volume(), affine_lps(np.eye(3)), root / "malformed", header(3, 3))
    malformed[0].write_bytes(malformed[0].read_bytes().replace(b"1.1\\0.9", b"1.1\\X.9"))
    expected |= {str(p): "ingest_error" for p in malformed}

    short = write_series(asymmetric_volume((12, 10, 2)), affine_lps(np.eye(3)), root / "short", header(4, 0))
    expected |= {str(p): "too_few_slices" for p in short}
    return {"good": [str(p) for p in good], **expected}


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter")  # the cut RLE file
def test_broken_input_is_quarantined_and_good_series_still_ingest(tmp_path):
    root = tmp_path / "dicom"
    expected = write_broken_folder(root)
    good = expected.pop("good")
    index, manifest, quarantine = run_ingest(root, tmp_path / "out", min_slices=3)

    assert manifest["series_key"].tolist() == [salted_key(SALT, deterministic_uid("series", 1, 0))]
    assert manifest["n_files"].tolist() == [len(good)]
    codes = dict(zip(quarantine["path"], quarantine["reason"].str.split(":").str[0]))
    assert codes == expected
    assert all(":" in reason and reason.split(":", 1)[1].strip() for reason in quarantine["reason"])
    # Every file under the root is in exactly one of the two tables.
    assert int(manifest["n_files"].sum()) + len(quarantine) == len(files_under(root)) == len(index)
    assert not set(quarantine["path"]) & set(good)


def test_deflated_series_is_decoded_by_pydicom_for_dcm2niix(tmp_path):
    volume = asymmetric_volume()
    paths = write_series(volume, affine_lps(np.eye(3)), tmp_path / "dicom" / "deflated", header(1, 0))
    for path in paths:  # dcm2niix cannot read Deflated Explicit VR Little Endian
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        ds.save_as(path, enforce_file_format=True)
    _, manifest, quarantine = run_ingest(tmp_path / "dicom", tmp_path / "out")
    assert quarantine.empty and len(manifest) == 1
    stored, slope, _ = to_stored_values(volume, 1.0)
    converted = nib.as_closest_canonical(nib.load(manifest["nifti_path"].iloc[0]))
    expected = nib.as_closest_canonical(nib.Nifti1Image(stored * slope, LPS_TO_RAS @ affine_lps(np.eye(3))))
    np.testing.assert_allclose(converted.get_fdata(), expected.get_fdata(), atol=1e-3 * stored.max() * slope)


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter")  # the cut RLE file
def test_no_raw_identifier_anywhere_in_the_output(tmp_path, caplog, recwarn):
    root = tmp_path / "dicom"
    # Identifying values also hidden in free text: ImageComments (dcm2niix's aux_file), the description.
    write_series(asymmetric_volume(), affine_lps(np.eye(3)), root / "a",
                 header(7, 0, ImageComments=f"for {SECRETS['PatientName']}", SeriesDescription="T1 doewright"))
    write_series(asymmetric_volume(), affine_lps(GEOMETRIES["sagittal"][0]), root / "b", header(7, 1))
    write_broken_folder(root / "broken")
    labels = tmp_path / "labels.tsv"
    pd.DataFrame({"SeriesInstanceUID": [deterministic_uid("series", 7, 0)], "label": ["T1"]}).to_csv(
        labels, sep="\t", index=False)
    out = tmp_path / "out"
    caplog.clear()  # only what the ingest itself logs or warns counts
    recwarn.clear()
    with caplog.at_level(logging.DEBUG):
        _, manifest, _ = run_ingest(root, out, labels=[labels])
    assert sorted(manifest["label"].tolist()) == ["", "", "T1"]  # two series of patient 7, the good broken one
    assert "doewright" not in " ".join(manifest["series_description"]).lower()

    needles = {v.lower() for v in SECRETS.values()} | {"doewright", "johnathan", "pid-73190", "acc-555019"}
    scanned = 0
    for path in files_under(out):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
            header_fields = nib.load(path).header
            assert all(header_fields[f].item() == b"" for f in ("descrip", "aux_file", "db_name"))
        found = [n for n in needles if n.encode() in data.lower()]
        assert not found, f"{path} contains {found}"
        scanned += 1
    assert scanned >= 6
    messages = caplog.text + "\n".join(str(w.message) for w in recwarn)
    assert not [n for n in needles if n in messages.lower()]


def test_all_series_of_a_patient_share_one_shard(tmp_path):
    root = tmp_path / "dicom"
    for patient in range(6):
        for series in range(2):
            write_series(asymmetric_volume((8, 8, 3)), affine_lps(np.eye(3)),
                         root / f"p{patient}" / f"s{series}", header(patient, series))
    index, manifest, _ = run_ingest(root, tmp_path / "out", shards=3)
    assert index.groupby("patient_key")["shard"].nunique().eq(1).all()
    assert (index["shard"] == [shard_of(key, 3) for key in index["patient_key"]]).all()
    assert index["shard"].nunique() > 1  # six patients do not all hash into one of three shards
    shard_of_path = manifest["nifti_path"].str.split(os.sep).str[-3]
    assert (shard_of_path == [shard_of(key, 3) for key in manifest["patient_key"]]).all()
    assert len(manifest) == 12 and manifest.groupby("patient_key").size().eq(2).all()


def test_merge_fails_clearly_on_an_empty_manifest(tmp_path):
    root = tmp_path / "only_junk"
    root.mkdir()
    with pytest.raises(ValueError, match="No usable series under .*only_junk: it holds no files"):
        run_ingest(root, tmp_path / "out")
    (root / "a.txt").write_text("not an image")
    with pytest.raises(ValueError, match=r"No usable series under .*only_junk: all 1 files .*'not_dicom': 1"):
        run_ingest(root, tmp_path / "out")


def test_acquisition_fields_keep_the_year_and_find_b_values():
    ds = Dataset()
    ds.StudyDate = "20190312"
    ds.SeriesDescription = "DWI for Doewright"
    ds.DiffusionBValue = 1000
    fields = acquisition_fields(ds, redactor(["DOEWRIGHT^JOHNATHAN"]))
    assert fields["study_year"] == "2019" and fields["b_value"] == 1000
    assert fields["series_description"] == "DWI for [redacted]"
    siemens = Dataset()
    siemens.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0C, "IS", "800")
    assert b_value(siemens) == 800
    assert b_value(Dataset()) is None


def test_same_input_gives_byte_identical_output(tmp_path):
    write_series(asymmetric_volume(), affine_lps(GEOMETRIES["oblique"][0]), tmp_path / "dicom" / "s", header(1, 0))
    runs = [run_ingest(tmp_path / "dicom", tmp_path / f"out{n}")[1] for n in range(2)]
    first, second = (Path(m["nifti_path"].iloc[0]) for m in runs)
    assert first != second and first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[4:8] == bytes(4)  # no gzip timestamp: equal on any later day too
    assert runs[0].drop(columns="nifti_path").equals(runs[1].drop(columns="nifti_path"))


def test_index_warns_when_folders_name_the_patient(tmp_path, caplog):
    for folder, patient in [("Doewright_J", 1), ("case2", 2)]:
        write_series(asymmetric_volume((8, 8, 3)), affine_lps(np.eye(3)), tmp_path / "dicom" / folder,
                     header(patient, 0))
    with caplog.at_level(logging.WARNING):
        index_dicom(tmp_path / "dicom", SALT, 2, tmp_path / "file_index.tsv")
    assert "3 files lie in folders or files named after their patient" in caplog.text
