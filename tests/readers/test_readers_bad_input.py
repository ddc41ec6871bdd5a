"""Bad image files through a reader: each is quarantined with a reason, the good ones still ingested."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from mrissl.manifest import QUARANTINE_COLUMNS, file_key
from mrissl.readers import read_dataset, read_spider_gradings

SALT = "test-salt"
AXIAL = np.diag([1.0, 1.0, 2.5, 1.0])


def write_volume(path: Path, data: np.ndarray | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(0).random((8, 8, 6)).astype(np.float32) if data is None else data
    nib.save(nib.Nifti1Image(data, AXIAL), path)   # sform code 2, qform code 0: the sform is the affine
    return path


SROW_X, SROW_Y = 280, 296   # byte offsets of the sform rows (4 float32 each) in a NIfTI-1 header


def with_sform_row(path: Path, offset: int, row: list[float]) -> Path:
    """Overwrite one sform row of a written .nii: nibabel refuses to write such affines itself."""
    written = bytearray(path.read_bytes())
    written[offset:offset + 16] = np.asarray(row, np.float32).tobytes()
    path.write_bytes(bytes(written))
    return path


def with_nan(shape=(8, 8, 6)) -> np.ndarray:
    data = np.ones(shape, np.float32)
    data[1, 2, 3] = np.nan
    return data


def with_inf(shape=(8, 8, 6)) -> np.ndarray:
    data = np.ones(shape, np.float32)
    data[0, 0, 0] = np.inf
    return data


def truncated_gzip(path: Path) -> Path:
    write_volume(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


CASES = {  # file name -> (how to write it, the quarantine reason it must get)
    "nan.nii.gz": (lambda p: write_volume(p, with_nan()), "1 NaN or infinite voxels of 384"),
    "inf.nii": (lambda p: write_volume(p, with_inf()), "1 NaN or infinite voxels of 384"),
    "empty.nii.gz": (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    "truncated.nii.gz": (truncated_gzip, "unreadable image"),
    "four_d.nii.gz": (lambda p: write_volume(p, np.ones((8, 8, 6, 2), np.float32)), "4D image of shape (8, 8, 6, 2)"),
    "singular.nii": (lambda p: with_sform_row(write_volume(p), SROW_Y, [0, 0, 0, 0]), "singular affine"),
    "nan_affine.nii": (lambda p: with_sform_row(write_volume(p), SROW_X, [np.nan, 0, 0, 0]),
                       "the affine (voxel to world) has NaN or infinite entries"),
    "not_gzip.nii.gz": (lambda p: p.write_bytes(gzip.compress(b"not a nifti header at all")), "unreadable image"),
}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_volume(root / "good.nii.gz")
    lines = ["subject\tpath\tlabel", "ok\tgood.nii.gz\tT1"]
    for n, (name, (write, _)) in enumerate(CASES.items()):
        write(root / name)
        lines.append(f"s{n}\t{name}\tT2")
    (root / "dataset.tsv").write_text("\n".join(lines) + "\n")
    return root / "dataset.tsv"


def test_every_bad_file_is_quarantined_with_its_reason_and_the_good_one_kept(dataset, tmp_path):
    manifest, quarantine = read_dataset("tsv", dataset, SALT, tmp_path / "out")
    assert len(manifest) == 1 and Path(manifest["nifti_path"].iloc[0]).is_file()
    reasons = dict(zip(quarantine["path"], quarantine["reason"]))
    assert set(reasons) == set(CASES)
    for name, (_, reason) in CASES.items():
        assert reasons[name].startswith(reason), (name, reasons[name])
    assert not any(str(dataset.parent) in reason for reason in reasons.values())  # names, not full paths


def test_brats_mask_of_another_shape_or_grid_quarantines_its_images(tmp_path):
    root = tmp_path / "BraTS2021_Training"
    for number, mask_shape, mask_affine in (("00001", (8, 8, 5), AXIAL), ("00002", (8, 8, 6), np.diag([2.0, 1, 2.5, 1]))):
        case = root / f"BraTS2021_{number}"
        for token in ("t1", "t2"):
            write_volume(case / f"BraTS2021_{number}_{token}.nii.gz")
        nib.save(nib.Nifti1Image(np.zeros(mask_shape, np.uint8), mask_affine), case / f"BraTS2021_{number}_seg.nii.gz")
    manifest, quarantine = read_dataset("brats2021", root, SALT, tmp_path / "out")
    assert manifest.empty and len(quarantine) == 4
    reasons = dict(zip(quarantine["path"], quarantine["reason"]))
    assert reasons["BraTS2021_00001/BraTS2021_00001_t1.nii.gz"] == "mask has shape (8, 8, 5), the image (8, 8, 6)"
    assert reasons["BraTS2021_00002/BraTS2021_00002_t2.nii.gz"] == "mask is not on the image's grid (affines differ)"
    # The reason names the mask by its role; the private columns say which file it is.
    related = dict(zip(quarantine["path"], quarantine["related_path"]))
    assert related["BraTS2021_00001/BraTS2021_00001_t1.nii.gz"] == "BraTS2021_00001/BraTS2021_00001_seg.nii.gz"


def write_mha(path: Path, shape=(8, 7, 6), origin=(0.0, 0.0, 0.0)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = sitk.GetImageFromArray(np.ones(shape[::-1], np.int16))  # SimpleITK arrays are (k, j, i)
    image.SetSpacing((0.5, 0.6, 4.0))
    image.SetOrigin(origin)
    sitk.WriteImage(image, str(path))
    return path


def test_spider_mask_of_another_shape_or_grid_quarantines_its_case(tmp_path):
    root = tmp_path / "SPIDER"
    for case, mask_shape, mask_origin in (("1_t2", (8, 7, 5), (0, 0, 0)), ("2_t2", (8, 7, 6), (0, 0, 8.0)),
                                          ("3_t2", (8, 7, 6), (0, 0, 0))):
        write_mha(root / "images" / f"{case}.mha")
        write_mha(root / "masks" / f"{case}.mha", mask_shape, mask_origin)
    manifest, quarantine = read_dataset("spider", root, SALT, tmp_path / "out")
    assert len(manifest) == 1 and Path(manifest["mask_path"].iloc[0]).is_file()  # 3_t2 kept with its mask
    assert quarantine[["path", "reason", "related_path"]].values.tolist() == [
        ["images/1_t2.mha", "mask has shape (8, 7, 5), the image (8, 7, 6)", "masks/1_t2.mha"],
        ["images/2_t2.mha", "mask is not on the image's grid (affines differ)", "masks/2_t2.mha"],
    ]


GRADING_COLUMNS = ["Patient", "IVD label", "Modic", "UP endplate", "LOW endplate", "Spondylolisthesis",
                   "Disc herniation", "Disc narrowing", "Disc bulging", "Pfirrman grade"]


def test_spider_gradings_of_unknown_levels_are_quarantined_and_the_rest_kept(tmp_path):
    known = [["1", label, 0, 0, 0, 0, 0, 0, 1, 2 + label % 3] for label in (1, 2, 6)]
    unknown = {  # the line each takes in the file -> its row and the reason's end
        3: (["1", 7, 0, 0, 0, 0, 0, 0, 1, 3], "IVD label '7' names no disc level of the vocabulary"),
        4: (["2", "L4-L5", 0, 0, 0, 0, 0, 0, 1, 3], "IVD label 'L4-L5' names no disc level of the vocabulary"),
        5: (["2", None, 0, 0, 0, 0, 0, 0, 1, 3], "no IVD label"),
        6: ([None, 3, 0, 0, 0, 0, 0, 0, 1, 3], "no Patient"),
    }
    rows = known[:1] + [row for row, _ in unknown.values()] + known[1:]
    pd.DataFrame(rows, columns=GRADING_COLUMNS).to_csv(tmp_path / "radiological_gradings.csv", index=False)
    gradings, quarantine = read_spider_gradings(tmp_path, SALT)

    clean = tmp_path / "clean"
    clean.mkdir()
    pd.DataFrame(known, columns=GRADING_COLUMNS).to_csv(clean / "radiological_gradings.csv", index=False)
    expected, nothing = read_spider_gradings(clean, SALT)
    pd.testing.assert_frame_equal(gradings, expected)  # the known rows, unchanged
    assert nothing.empty
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    assert set(quarantine["file_key"]) == {file_key(SALT, "radiological_gradings.csv")}  # as the reader keys it
    assert len(quarantine) == len(unknown)
    for reason, (line, (_, why)) in zip(quarantine["reason"], unknown.items(), strict=True):
        assert reason.startswith(f"radiological_gradings.csv line {line}: {why}"), reason
