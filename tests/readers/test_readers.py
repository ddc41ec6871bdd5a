"""Readers for real datasets: tiny trees in each published layout, checked row by row."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from mrissl.manifest import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, file_key, salted_key
from mrissl.readers import READERS, read_dataset, read_spider_gradings
from mrissl.readers.rows import QUARANTINE_PATH_COLUMNS

SALT = "test-salt"
AXIAL = np.diag([1.0, 1.0, 2.5, 1.0])
KEY_NAME = re.compile(r"[0-9a-f]{16}\.nii\.gz")


def write_nifti(path: Path, shape=(8, 8, 6), affine=AXIAL, seed=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(seed).random(shape).astype(np.float32)
    image = nib.Nifti1Image(data, affine)
    image.header["descrip"] = b"Doe^Jane scanned 2024-01-02"  # free text a converter may leave
    image.header["aux_file"] = b"MRN 12345"
    nib.save(image, path)
    return path


def truncate(path: Path) -> None:
    """Cut a written file in half, as an interrupted download leaves it."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def check_tables(manifest: pd.DataFrame, quarantine: pd.DataFrame, out_dir: Path, raw_ids: list[str]) -> None:
    """Schema, salted file names under out_dir, and no raw id in the manifest or the quarantine's results columns."""
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert list(quarantine.columns) == QUARANTINE_COLUMNS + QUARANTINE_PATH_COLUMNS[1:]  # paths: private table
    assert (quarantine["file_key"] == [file_key(SALT, path) for path in quarantine["path"]]).all()
    text = manifest.to_csv(sep="\t").replace(str(out_dir), "OUT") + quarantine[QUARANTINE_COLUMNS].to_csv(sep="\t")
    for raw in raw_ids:
        assert raw not in text
    for key_column in ["patient_key", "study_key", "series_key", "group_key"]:
        assert manifest[key_column].str.fullmatch(r"[0-9a-f]{16}").all()
    for row in manifest.itertuples():
        path = Path(row.nifti_path)
        assert path.is_file() and KEY_NAME.fullmatch(path.name)
        assert path.parent == out_dir / row.patient_key and path.stem.removesuffix(".nii") == row.series_key
        header = nib.load(path).header
        assert header["descrip"].item() == b"" and header["aux_file"].item() == b""
    assert (manifest["n_files"] == 0).all()


def reason_of(quarantine: pd.DataFrame, path: str) -> str:
    (reason,) = quarantine.loc[quarantine["path"] == path, "reason"]
    return reason


def test_brats2021(tmp_path):
    root = tmp_path / "BraTS2021_Training"
    for number in ["00001", "00002"]:
        case = root / f"BraTS2021_{number}"
        for seed, token in enumerate(["t1", "t1ce", "t2", "flair"]):
            write_nifti(case / f"BraTS2021_{number}_{token}.nii.gz", seed=seed)
        seg = write_nifti(case / f"BraTS2021_{number}_seg.nii.gz")
    truncate(root / "BraTS2021_00002" / "BraTS2021_00002_t1ce.nii.gz")
    out = tmp_path / "out"
    manifest, quarantine = read_dataset("brats2021", root, SALT, out)

    check_tables(manifest, quarantine, out, ["BraTS2021_0000"])
    assert len(manifest) == 7
    assert manifest["label"].value_counts().to_dict() == {"T1": 2, "T2": 2, "FLAIR": 2, "T1CE": 1}
    assert set(manifest["source"]) == {"brats2021"}
    assert set(manifest["patient_key"]) == {salted_key(SALT, f"brats2021:BraTS2021_{n}") for n in ["00001", "00002"]}
    assert (manifest["group_key"] == manifest["patient_key"]).all()
    assert manifest.groupby("patient_key")["study_key"].nunique().eq(1).all()
    assert set(manifest["shape"]) == {"8,8,6"} and set(manifest["spacing_mm"]) == {"1,1,2.5"}
    assert set(manifest["orientation"]) == {"RAS"} and set(manifest["acquisition_plane"]) == {"axial"}
    # One seg per case, shared by its four images, placed once under a salted name.
    assert manifest.groupby("patient_key")["mask_path"].nunique().eq(1).all()
    mask = nib.load(manifest["mask_path"].iloc[0])
    assert mask.shape == (8, 8, 6) and np.allclose(mask.affine, AXIAL)
    assert np.array_equal(nib.load(manifest["mask_path"].iloc[-1]).get_fdata(), nib.load(seg).get_fdata())
    # NIfTI files keep their voxels and grid exactly.
    t1 = nib.load(manifest.loc[manifest["series_description"] == "t1", "nifti_path"].iloc[0])
    original = nib.load(root / "BraTS2021_00001" / "BraTS2021_00001_t1.nii.gz")
    assert np.array_equal(t1.get_fdata(), original.get_fdata()) and np.array_equal(t1.affine, original.affine)
    assert "unreadable image" in reason_of(quarantine, "BraTS2021_00002/BraTS2021_00002_t1ce.nii.gz")
    assert len(quarantine) == 1

    # Same salt, same keys; another salt, other keys.
    again, _ = read_dataset("brats2021", root, SALT, tmp_path / "again")
    assert again["series_key"].tolist() == manifest["series_key"].tolist()
    other, _ = read_dataset("brats2021", root, "another-salt", tmp_path / "other")
    assert not set(other["patient_key"]) & set(manifest["patient_key"])


def test_brats2023_patients_timepoints_and_subchallenges(tmp_path):
    root = tmp_path / "brats2023"
    for case in ["BraTS-GLI-00002-000", "BraTS-GLI-00002-001", "BraTS-PED-00002-000"]:
        for seed, token in enumerate(["t1n", "t1c", "t2w", "t2f", "seg"]):
            write_nifti(root / case / f"{case}-{token}.nii.gz", seed=seed)
    (root / "BraTS-GLI-00002-001" / "BraTS-GLI-00002-001-t2f.nii.gz").unlink()
    (root / "BraTS-GLI-00002-001" / "BraTS-GLI-00002-001-seg.nii.gz").unlink()
    out = tmp_path / "out"
    manifest, quarantine = read_dataset("brats2023", root, SALT, out)

    check_tables(manifest, quarantine, out, ["BraTS-", "00002-00"])
    assert len(manifest) == 11
    assert manifest["label"].value_counts().to_dict() == {"T1": 3, "T1CE": 3, "T2": 3, "FLAIR": 2}
    gli = salted_key(SALT, "brats2023:BraTS-GLI-00002")
    ped = salted_key(SALT, "brats2023:BraTS-PED-00002")
    assert manifest["patient_key"].value_counts().to_dict() == {gli: 7, ped: 4}
    assert manifest.loc[manifest["patient_key"] == gli, "study_key"].nunique() == 2
    # The follow-up without a seg has no mask; the others have one.
    assert manifest["mask_path"].isna().sum() == 3
    assert reason_of(quarantine, "BraTS-GLI-00002-001/BraTS-GLI-00002-001-t2f.nii.gz") == "missing file"
    assert len(quarantine) == 1


def write_mha(path: Path, shape=(8, 7, 6), seed=0) -> sitk.Image:
    """A sagittal .mha: i runs posterior, j inferior, k to the right (LPS -x); a non-identity direction."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(seed).integers(0, 1000, size=shape).astype(np.int16)
    image = sitk.GetImageFromArray(data.transpose(2, 1, 0))  # SimpleITK arrays are (k, j, i)
    image.SetSpacing((0.5, 0.6, 4.0))
    image.SetOrigin((12.0, -30.0, 45.0))
    image.SetDirection([0.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0])  # row-major; columns = axes i, j, k
    sitk.WriteImage(image, str(path))
    return image


def write_spider(root: Path) -> dict[str, sitk.Image]:
    images = {}
    for seed, name in enumerate(["1_t1", "1_t2", "1_t2_SPACE", "2_t1", "2_t2"]):
        images[name] = write_mha(root / "images" / f"{name}.mha", seed=seed)
        write_mha(root / "masks" / f"{name}.mha", shape=(8, 7, 5) if name == "2_t2" else (8, 7, 6))
    gradings = pd.DataFrame(
        [[patient, ivd, 0, 0, 0, 0, 0, 0, 1, 2 + ivd % 3] for patient in [1, 2] for ivd in [1, 2, 3]],
        columns=["Patient", "IVD label", "Modic", "UP endplate", "LOW endplate", "Spondylolisthesis",
                 "Disc herniation", "Disc narrowing", "Disc bulging", "Pfirrman grade"],
    )
    gradings.to_csv(root / "radiological_gradings.csv", index=False)
    return images


def test_spider_converts_mha_with_the_right_world_coordinates(tmp_path):
    root = tmp_path / "SPIDER"
    images = write_spider(root)
    out = tmp_path / "out"
    manifest, quarantine = read_dataset("spider", root, SALT, out)

    check_tables(manifest, quarantine, out, ["1_t", "2_t", "SPIDER"])
    assert manifest["label"].tolist() == ["T1", "T2", "T2", "T1"]
    assert manifest["series_description"].tolist() == ["t1", "t2", "t2_SPACE", "t1"]
    assert manifest["patient_key"].nunique() == 2
    assert set(manifest["orientation"]) == {"PIR"} and set(manifest["acquisition_plane"]) == {"sagittal"}
    assert set(manifest["shape"]) == {"8,7,6"} and set(manifest["spacing_mm"]) == {"0.5,0.6,4"}
    # A voxel lands where SimpleITK puts it: LPS (x, y, z) is RAS (-x, -y, z).
    source = images["1_t2"]
    converted = nib.load(manifest.loc[manifest["series_description"] == "t2", "nifti_path"].iloc[0])
    index = (5, 2, 3)
    x, y, z = source.TransformIndexToPhysicalPoint(index)
    assert np.allclose(converted.affine @ [*index, 1], [-x, -y, z, 1])
    assert converted.get_fdata()[index] == source[index]
    assert converted.get_data_dtype() == np.int16
    mask = nib.load(manifest["mask_path"].iloc[0])
    assert mask.shape == (8, 7, 6) and np.allclose(mask.affine, converted.affine)
    assert "mask has shape (8, 7, 5)" in reason_of(quarantine, "images/2_t2.mha")
    assert quarantine["related_path"].tolist() == ["masks/2_t2.mha"]
    assert len(quarantine) == 1

    # Converting again gives byte-identical files.
    again, _ = read_dataset("spider", root, SALT, tmp_path / "again")
    for first, second in zip(manifest["nifti_path"], again["nifti_path"], strict=True):
        assert Path(first).read_bytes() == Path(second).read_bytes()

    gradings, gradings_quarantine = read_spider_gradings(root, SALT)
    assert gradings_quarantine.empty
    assert list(gradings.columns) == [
        "patient_key", "ivd_label", "modic", "up_endplate", "low_endplate", "spondylolisthesis",
        "disc_herniation", "disc_narrowing", "disc_bulging", "pfirrmann_grade",
    ]
    assert len(gradings) == 6 and set(gradings["patient_key"]) == set(manifest["patient_key"])
    assert gradings["pfirrmann_grade"].tolist() == [3, 4, 2, 3, 4, 2]


def test_spider_gradings_name_a_wrong_table(tmp_path):
    pd.DataFrame({"Patient": [1], "Pfirrmann": [2]}).to_csv(tmp_path / "radiological_gradings.csv", index=False)
    with pytest.raises(ValueError, match="radiological_gradings.csv.*lacks the SPIDER columns"):
        read_spider_gradings(tmp_path, SALT)


def test_ixi(tmp_path):
    root = tmp_path / "IXI"
    for seed, modality in enumerate(["T1", "T2", "PD", "MRA"]):
        write_nifti(root / f"IXI002-Guys-0828-{modality}.nii.gz", seed=seed)
    write_nifti(root / "IXI002-Guys-0828-DTI.nii.gz", shape=(8, 8, 6, 3))
    write_nifti(root / "IXI012-HH-1211-T2.nii.gz")
    (root / "IXI012-HH-1211-T1.nii.gz").write_bytes(b"not a nifti at all")
    out = tmp_path / "out"
    manifest, quarantine = read_dataset("ixi", root, SALT, out)

    check_tables(manifest, quarantine, out, ["IXI0", "Guys", "HH"])
    assert manifest["label"].tolist() == ["TOF", "PD", "T1", "T2", "T2"]
    assert manifest["series_description"].tolist() == ["MRA", "PD", "T1", "T2", "T2"]
    assert manifest["manufacturer"].tolist() == ["Philips"] * 5
    assert manifest["field_strength_t"].tolist() == [1.5] * 4 + [3.0]
    assert manifest["patient_key"].iloc[0] == salted_key(SALT, "ixi:IXI002")
    assert manifest["study_key"].iloc[:4].nunique() == 1
    assert reason_of(quarantine, "IXI002-Guys-0828-DTI.nii.gz").startswith("DTI not read")
    assert "unreadable image" in reason_of(quarantine, "IXI012-HH-1211-T1.nii.gz")
    assert len(quarantine) == 2


def test_bids_sidecars_inherit_and_nothing_identifying_is_copied(tmp_path):
    root = tmp_path / "bids"
    root.mkdir()
    (root / "participants.tsv").write_text("participant_id\tage\tname\nsub-pz01\t34\tJane Doe\n")
    (root / "dataset_description.json").write_text(json.dumps({"Name": "test", "BIDSVersion": "1.9.0"}))
    (root / "T1w.json").write_text(json.dumps({
        "RepetitionTime": 2.3, "EchoTime": 0.005, "Manufacturer": "Siemens", "MagneticFieldStrength": 3,
        "InstitutionName": "Secret Hospital", "DeviceSerialNumber": "SN-777",
    }))
    pre = root / "sub-pz01" / "ses-pre" / "anat"
    write_nifti(pre / "sub-pz01_ses-pre_T1w.nii.gz")
    (pre / "sub-pz01_ses-pre_T1w.json").write_text(json.dumps({
        "EchoTime": 0.00293, "FlipAngle": 9, "InversionTime": 0.9, "PatientName": "Doe^Jane",
    }))
    write_nifti(pre / "sub-pz01_ses-pre_FLAIR.nii.gz")
    write_nifti(root / "sub-pz01" / "ses-post" / "anat" / "sub-pz01_ses-post_ce-gadolinium_T1w.nii.gz")
    broken = root / "sub-qx02" / "anat"
    write_nifti(broken / "sub-qx02_T2w.nii.gz")
    (broken / "sub-qx02_T2w.json").write_text("{not json")
    write_nifti(broken / "sub-qx02_T1w.nii.gz", shape=(8, 8, 6, 2))
    write_nifti(broken / "sub-qx02_angio.nii.gz")  # a suffix this reader does not read
    write_nifti(root / "sub-rw03" / "anat" / "sub-rw03_T2w.nii.gz")
    (root / "sub-rw03" / "sub-rw03_T2w.json").write_text(json.dumps({"RepetitionTime": 4.0}))
    out = tmp_path / "out"
    manifest, quarantine = read_dataset("bids", root, SALT, out)

    check_tables(manifest, quarantine, out, ["pz01", "qx02", "rw03", "ses-", "Secret", "SN-777", "Doe", "Jane"])
    rows = manifest.set_index("label")
    assert sorted(rows.index) == ["FLAIR", "T1", "T1CE", "T2"]
    t1 = rows.loc["T1"]
    assert (t1["repetition_time_ms"], t1["echo_time_ms"], t1["inversion_time_ms"]) == (2300.0, 2.93, 900.0)
    assert (t1["flip_angle_deg"], t1["manufacturer"], t1["field_strength_t"]) == (9.0, "Siemens", 3.0)
    assert (rows.loc["T1CE", "repetition_time_ms"], rows.loc["T1CE", "echo_time_ms"]) == (2300.0, 5.0)
    assert rows.loc["FLAIR", ["repetition_time_ms", "manufacturer"]].isna().all()
    assert rows.loc["T2", "repetition_time_ms"] == 4000.0
    # Sessions are studies of one patient.
    pz01 = salted_key(SALT, "bids:pz01")
    assert (rows.loc[["T1", "FLAIR", "T1CE"], "patient_key"] == pz01).all()
    assert rows.loc["T1", "study_key"] == rows.loc["FLAIR", "study_key"] != rows.loc["T1CE", "study_key"]
    assert "is not valid JSON" in reason_of(quarantine, "sub-qx02/anat/sub-qx02_T2w.nii.gz")
    assert reason_of(quarantine, "sub-qx02/anat/sub-qx02_T1w.nii.gz").startswith("4D image")
    assert len(quarantine) == 2


def test_tsv_table(tmp_path):
    data = tmp_path / "data"
    write_nifti(data / "imgs" / "a.nii.gz")
    write_nifti(data / "imgs" / "a_mask.nii.gz")
    elsewhere = write_nifti(tmp_path / "elsewhere" / "b.nii.gz", seed=1)
    table = data / "dataset.tsv"
    table.write_text(
        "subject\tpath\tlabel\tsession\tmask\tgroup\n"
        "tw1a\timgs/a.nii.gz\tT1\tv1\timgs/a_mask.nii.gz\ttwinsX\n"
        f"tw1b\t{elsewhere}\tT2\tv1\t\ttwinsX\n"
        "solo\timgs/missing.nii.gz\tFLAIR\t\t\t\n"
        "\timgs/a.nii.gz\tT1\t\t\t\n"
    )
    out = tmp_path / "out"
    manifest, quarantine = read_dataset("tsv", table, SALT, out)

    check_tables(manifest, quarantine, out, ["tw1", "twinsX", "solo"])
    assert manifest["label"].tolist() == ["T1", "T2"]
    assert manifest["patient_key"].nunique() == 2 and manifest["group_key"].nunique() == 1
    assert nib.load(manifest["mask_path"].iloc[0]).shape == (8, 8, 6)
    assert manifest["mask_path"].isna().tolist() == [False, True]
    assert reason_of(quarantine, "imgs/missing.nii.gz") == "missing file"
    assert reason_of(quarantine, "dataset.tsv") == "line 5: subject and path are required"

    (data / "bad.tsv").write_text("patient\tfile\nx\ty\n")
    with pytest.raises(ValueError, match=r"bad.tsv: lacks the columns \['subject', 'path'\]"):
        read_dataset("tsv", data / "bad.tsv", SALT, out)


def test_read_dataset_names_what_is_wrong(tmp_path):
    assert set(READERS) == {"brats2021", "brats2023", "spider", "ixi", "bids", "tsv"}
    with pytest.raises(ValueError, match="data.source must be one of"):
        read_dataset("nifti", tmp_path, SALT, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="set data.root"):
        read_dataset("ixi", tmp_path / "absent", SALT, tmp_path / "out")
    with pytest.raises(ValueError, match="found no brats2021 images"):
        read_dataset("brats2021", tmp_path, SALT, tmp_path / "out")
