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

from mrissl.deid import clean_descriptor_tags, identifying_tags, redactor
from mrissl.ingest import (
    acquisition_fields,
    b_value,
    find_dcm2niix,
    index_dicom,
    ingest_shard,
    merge_manifest,
    read_text_table,
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
    """The three ingest steps as the rules run them: tables under ``out`` (results/), the file index beside it
    (``<out>_private/``, as the rules keep it in private/)."""
    index = out.with_name(f"{out.name}_private") / "file_index.tsv"
    index_dicom(root, SALT, shards, index)
    manifests, quarantines = [], []
    for shard in [f"{n:03d}" for n in range(shards)]:
        manifest, quarantine = ingest_shard(index, shard, out / "nifti" / shard, salt=SALT, min_slices=min_slices,
                                            source="dicom", root=root, label_tables=labels, threads=2)
        manifests.append(manifest)
        quarantines.append(quarantine)
    manifest, quarantine = merge_manifest(index, manifests, quarantines, root)
    write_table(manifest, out / "manifest.tsv", MANIFEST_COLUMNS)
    write_table(quarantine, out / "quarantine.tsv", QUARANTINE_COLUMNS)
    return read_text_table(index), manifest, quarantine


def quarantined_paths(index: pd.DataFrame, quarantine: pd.DataFrame, root: Path) -> dict[str, str]:
    """Path of each quarantined file (looked up by its key in the private index, as a user would) -> reason."""
    path_of = dict(zip(index["file_key"], index["path"]))
    return {str(root / path_of[key]): reason for key, reason in zip(quarantine["file_key"], quarantine["reason"])}


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
    reasons = quarantined_paths(index, quarantine, root)
    codes = {path: reason.split(":")[0] for path, reason in reasons.items()}
    assert codes == expected
    assert all(":" in reason and reason.split(":", 1)[1].strip() for reason in quarantine["reason"])
    # Every file under the root is in exactly one of the two tables.
    assert int(manifest["n_files"].sum()) + len(quarantine) == len(files_under(root)) == len(index)
    assert not set(reasons) & set(good)


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
    assert scanned == 5  # manifest, quarantine, three NIfTI (the file index lives outside, in private/)
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


# A sentinel in every PS3.15 identifying attribute: text (its own per attribute), a date, a time,
# a UID root, a number; the kept descriptors hold clinical words and every other attribute's value.
SENTINEL = "ZQXSNTL"
SENTINEL_DATE, SENTINEL_TIME, SENTINEL_DIGITS = "18991231", "235959.731337", "7331337"
SENTINEL_VALUES = {  # VR -> value
    "DA": SENTINEL_DATE, "DT": SENTINEL_DATE + SENTINEL_TIME, "TM": SENTINEL_TIME, "AS": "093Y",
    "DS": SENTINEL_DIGITS, "IS": SENTINEL_DIGITS, "UR": f"http://{SENTINEL}.org",
    "OB": SENTINEL.encode() + b" ", "UN": SENTINEL.encode() + b" ",
}
UID_ROOT = f"1.2.826.0.1.3680043.{SENTINEL_DIGITS}"
BINARY_NUMBERS = {"US", "SS", "UL", "SL", "FL", "FD"}  # hold no string: left out
KEPT_DESCRIPTION = "T1 SE for"


def sentinel_element(tag: int, series: int, instance: int) -> pydicom.DataElement | None:
    """The element ``tag`` holding a sentinel of its VR (LO for attributes pydicom's dictionary lacks)."""
    try:
        vr = pydicom.datadict.dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        vr = "LO"
    if vr in BINARY_NUMBERS:
        return None
    if vr == "UI":  # unique per attribute and series; per file for the SOP Instance UID, which the file meta repeats
        instance_uid = tag in (0x00080018, 0x00020003)
        value = f"{UID_ROOT}.{series}.{instance}" if instance_uid else f"{UID_ROOT}.{tag & 0xFFFF}.{series}"
    elif vr == "SQ":
        item = Dataset()
        item.CodeMeaning = SENTINEL
        value = [item]
    elif vr == "PN":
        value = f"{SENTINEL}{tag:08X}^{SENTINEL}"
    else:
        value = SENTINEL_VALUES.get(vr, f"{SENTINEL}{tag:08X}")
    return pydicom.DataElement(tag, vr, value)


def fill_identifying_attributes(path: Path, series: int, instance: int) -> None:
    """Set every public attribute of PS3.15 Table E.1-1 (and overlay comments, 60xx,4000) in the file at ``path``."""
    ds = pydicom.dcmread(path)
    exact, _ = identifying_tags()
    descriptors = clean_descriptor_tags()
    elements = [sentinel_element(tag, series, instance) for tag in sorted(exact | {0x60004000})
                if tag >> 16 not in (0x0000, 0x0004)]  # command set and DICOMDIR records: never in an image file
    elements = [e for e in elements if e is not None]
    others = sorted({str(e.value) for e in elements if e.VR not in ("SQ", "OB", "UN") and e.tag not in descriptors})
    for element in elements:
        if element.tag in descriptors and element.VR not in ("SQ", "OB", "UN"):
            element.value = " ".join([KEPT_DESCRIPTION, *others])
        if element.tag.group == 0x0002:
            ds.file_meta[element.tag] = element
        else:
            ds[element.tag] = element
    ds.save_as(path, enforce_file_format=True)


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter")  # the cut RLE file
def test_sentinel_in_every_identifying_attribute_and_folder_reaches_no_output_file(tmp_path, caplog, recwarn):
    root = tmp_path / "dicom"
    patient = root / f"{SENTINEL}^DOE {SENTINEL_DATE}"  # folder and file names hold sentinels too
    for series in range(2):
        paths = write_series(asymmetric_volume(), affine_lps(np.eye(3)), patient / f"{SENTINEL}_series{series}",
                             header(1, series), file_prefix=f"{SENTINEL}_")
        for instance, path in enumerate(paths):
            fill_identifying_attributes(path, series, instance)
    cut = paths[0].with_name(f"{SENTINEL}_cut.dcm")  # quarantined files are named too, by their key
    cut.write_bytes(paths[0].read_bytes()[:400])
    (patient / f"{SENTINEL}.txt").write_text("not DICOM")
    out = tmp_path / "out"
    caplog.clear()
    recwarn.clear()
    with caplog.at_level(logging.DEBUG):
        index, manifest, quarantine = run_ingest(root, out)

    assert len(manifest) == 2 and len(quarantine) == 2
    for column in ["series_description", "protocol_name"]:  # the cleaned descriptors keep their clinical words
        words = manifest[column].str.split(" ", n=3)
        assert (words.str[:3].str.join(" ") == KEPT_DESCRIPTION).all()
        assert set(words.str[3].str.split(" ").explode()) == {"[redacted]"}, manifest[column].iloc[0]
    assert set(manifest["study_year"]) == {SENTINEL_DATE[:4]}
    # The private index maps each quarantined key to its file.
    assert set(quarantined_paths(index, quarantine, root)) == {str(cut), str(patient / f"{SENTINEL}.txt")}
    needles = [SENTINEL, SENTINEL_DATE, SENTINEL_TIME, SENTINEL_DIGITS, "093Y"]
    scanned = 0
    for path in files_under(out):
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        found = [n for n in needles if n.lower().encode() in data.lower()]
        assert not found, f"{path.relative_to(out)} contains {found}"
        scanned += 1
    assert scanned == 4  # manifest, quarantine, two NIfTI
    messages = caplog.text + "\n".join(str(w.message) for w in recwarn)
    assert not [n for n in needles if n.lower() in messages.lower()]


def private_tag(group: int, creator: str, offset: int, vr: str, value) -> Dataset:
    ds = Dataset()
    ds.private_block(group, creator, create=True).add_new(offset, vr, value)
    return ds


@pytest.mark.parametrize("ds, expected", [
    (private_tag(0x0019, "SIEMENS MR HEADER", 0x0C, "IS", "800"), 800),
    (private_tag(0x2001, "Philips Imaging DD 001", 0x03, "FL", 1000.0), 1000),
    (private_tag(0x0043, "GEMS_PARM_01", 0x39, "IS", ["1000", "8", "0", "0"]), 1000),
    (private_tag(0x0043, "GEMS_PARM_01", 0x39, "IS", ["0", "8", "0", "0"]), 0),
    # Multi-b and synthetic GE DWI add a bias of 1e9; b-values of 10000 and more survive its removal.
    (private_tag(0x0043, "GEMS_PARM_01", 0x39, "IS", ["1000001000", "8", "0", "0"]), 1000),
    (private_tag(0x0043, "GEMS_PARM_01", 0x39, "IS", ["1000030000", "8", "0", "0"]), 30000),
    (Dataset(), None),
], ids=["siemens", "philips", "ge", "ge_b0", "ge_biased", "ge_biased_high_b", "none"])
def test_b_value_decoded_from_vendor_private_tags(ds, expected):
    assert b_value(ds) == expected


def test_b_value_of_the_standard_attribute_wins_and_private_tags_survive_a_file(tmp_path):
    ds = private_tag(0x0043, "GEMS_PARM_01", 0x39, "IS", ["1000002000", "8", "0", "0"])
    ds.DiffusionBValue = 1500.0
    assert b_value(ds) == 1500.0
    del ds.DiffusionBValue
    # An implicit-VR file: pydicom reads the private value back through its private dictionary.
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.save_as(tmp_path / "ge.dcm", implicit_vr=True, little_endian=True)
    assert b_value(pydicom.dcmread(tmp_path / "ge.dcm", force=True)) == 2000


def test_a_diffusion_series_with_two_b_values_becomes_two_labelled_volumes(tmp_path):
    """b=0 and trace images in one series (as GE and Philips export them): one manifest row each, with the
    label given for (series, b-value); a series with one b-value keeps its plain key."""
    affine = affine_lps(np.eye(3))
    diffusion = header(1, 0, SeriesDescription="DWI_tra")
    for n, b in enumerate((0.0, 1000.0)):
        write_series(asymmetric_volume(seed=n), affine, tmp_path / "dicom" / "dwi", {**diffusion, "DiffusionBValue": b},
                     first_instance=6 * n)
    write_series(asymmetric_volume(seed=2), affine, tmp_path / "dicom" / "t1", header(1, 1))
    uid = diffusion["SeriesInstanceUID"]
    labels = tmp_path / "labels.tsv"
    labels.write_text(f"SeriesInstanceUID\tb_value\tlabel\n{uid}\t0\tDWI\n{uid}\t1000\tTraceW\n"
                      f"{header(1, 1)['SeriesInstanceUID']}\t\tT1\n")
    _, manifest, quarantine = run_ingest(tmp_path / "dicom", tmp_path / "out", labels=[labels])
    assert quarantine.empty
    by_label = manifest.set_index("label")
    assert sorted(by_label.index) == ["DWI", "T1", "TraceW"]
    assert by_label.loc["DWI", "b_value"] == 0 and by_label.loc["TraceW", "b_value"] == 1000
    assert (manifest["n_files"] == 6).all() and manifest["series_key"].nunique() == 3
    assert by_label.loc["TraceW", "series_key"] == f"{by_label.loc['DWI', 'series_key'].removesuffix('-b0')}-b1000"
