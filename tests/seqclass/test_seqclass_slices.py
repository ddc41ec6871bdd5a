"""Central slices in three planes: counts, orientation, size and range, index/array agreement."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mrissl.seqclass.slices import (
    INDEX_COLUMNS,
    central_slice_indices,
    extract_split_slices,
    normalise_intensity,
    plane_slices,
    read_slice_index,
    resize_slices,
    summarise_curation,
)
from mrissl.manifest import MANIFEST_COLUMNS, load_canonical

PLANES = ["sagittal", "coronal", "axial"]
SLICING = dict(planes=PLANES, slice_fraction=0.3, min_slices_per_plane=1, max_slices_per_plane=None, image_size=16)


def coded_volume(shape: tuple[int, int, int]) -> np.ndarray:
    """A RAS volume whose value names its voxel: 10000 x + 100 y + z, so every axis is told apart."""
    x, y, z = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    return (10000 * x + 100 * y + z).astype(np.float32)


def write_nifti(path: Path, volume_ras: np.ndarray, stored_as: str = "RAS") -> Path:
    """Write ``volume_ras`` stored in the axis order/directions ``stored_as`` (e.g. "LPS", "SPL")."""
    image = nib.Nifti1Image(volume_ras, np.diag([0.9, 1.1, 3.0, 1.0]))
    to_stored = nib.orientations.ornt_transform(
        nib.orientations.axcodes2ornt("RAS"), nib.orientations.axcodes2ornt(tuple(stored_as))
    )
    stored = image.as_reoriented(to_stored)
    assert nib.aff2axcodes(stored.affine) == tuple(stored_as)
    nib.save(stored, path)
    return path


def build_cohort(root: Path, series: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write one NIfTI per entry (patient, label, shape, stored_as[, volume]) and return manifest, splits.

    Patients named ``test*`` go to the test split, all others to train.
    """
    rows = []
    for n, spec in enumerate(series):
        volume = spec["volume"] if "volume" in spec else coded_volume(spec["shape"])
        path = write_nifti(root / f"s{n:02d}.nii.gz", volume, spec.get("stored_as", "RAS"))
        rows.append({
            "patient_key": spec["patient"], "study_key": f"{spec['patient']}-study",
            "series_key": f"series{n:02d}", "source": "phantom", "label": spec["label"],
            "shape": ",".join(map(str, volume.shape)), "nifti_path": str(path), "group_key": spec["patient"],
        })
    manifest = pd.DataFrame(rows).reindex(columns=MANIFEST_COLUMNS)
    patients = manifest["patient_key"].unique()
    splits = pd.DataFrame({
        "patient_key": patients, "group_key": patients,
        "split": ["test" if p.startswith("test") else "train" for p in patients],
    })
    return manifest, splits


@pytest.mark.parametrize(
    ("n", "fraction", "min_slices", "max_slices", "expected"),
    [
        (10, 0.3, 1, None, [3, 4, 5]),
        (5, 0.3, 1, None, [1, 2]),            # 1.5 rounds up to 2
        (15, 0.3, 1, None, [5, 6, 7, 8, 9]),  # 4.5 rounds up to 5
        (3, 0.3, 1, None, [1]),
        (1, 0.3, 1, None, [0]),               # 0.3 rounds to 0, the minimum keeps 1
        (20, 0.3, 8, None, [6, 7, 8, 9, 10, 11, 12, 13]),
        (2, 0.3, 5, None, [0, 1]),            # never more than the volume has
        (100, 0.3, 1, 4, [35, 45, 54, 64]),   # 30 central (35..64), 4 evenly spaced
        (20, 0.3, 1, 10, [7, 8, 9, 10, 11, 12]),
    ],
)
def test_central_slice_indices(n, fraction, min_slices, max_slices, expected):
    assert central_slice_indices(n, fraction, min_slices, max_slices).tolist() == expected


@pytest.mark.parametrize("stored_as", ["RAS", "LPS", "SPL", "AIR"])
def test_load_canonical_undoes_any_storage_order(tmp_path, stored_as):
    volume = coded_volume((6, 7, 8))
    path = write_nifti(tmp_path / "v.nii.gz", volume, stored_as)
    np.testing.assert_array_equal(load_canonical(path), volume)


def test_plane_slices_orientation():
    nx, ny, nz = 6, 7, 8
    volume = coded_volume((nx, ny, nz))
    sagittal = plane_slices(volume, "sagittal", [2])[0]
    coronal = plane_slices(volume, "coronal", [3])[0]
    axial = plane_slices(volume, "axial", [4])[0]
    assert sagittal.shape == (nz, ny) and coronal.shape == (nz, nx) and axial.shape == (ny, nx)
    # Top-left is superior-posterior (sagittal), superior-left (coronal), anterior-left (axial).
    assert sagittal[0, 0] == volume[2, 0, nz - 1] and sagittal[-1, -1] == volume[2, ny - 1, 0]
    assert coronal[0, 0] == volume[0, 3, nz - 1] and coronal[-1, -1] == volume[nx - 1, 3, 0]
    assert axial[0, 0] == volume[0, ny - 1, 4] and axial[-1, -1] == volume[nx - 1, 0, 4]


def test_normalise_and_resize_range():
    rng = np.random.default_rng(0)
    volume = rng.gamma(2.0, 300.0, size=(10, 12, 14)).astype(np.float32)
    volume[0, 0, 0] = 1e6  # a hot voxel must not set the range
    normalised = normalise_intensity(volume)
    assert normalised.min() == 0.0 and normalised.max() == 1.0
    assert 0.2 < np.median(normalised) < 0.6
    assert not normalise_intensity(np.full((4, 4, 4), 7.0)).any()
    resized = resize_slices(normalised[:3], 32)
    assert resized.shape == (3, 32, 32) and resized.min() >= 0.0 and resized.max() <= 1.0
    # Shrinking a flat image keeps it flat, borders included.
    np.testing.assert_allclose(resize_slices(np.ones((2, 90, 40)), 16), 1.0, atol=1e-6)


def test_counts_per_series_and_plane(tmp_path):
    manifest, splits = build_cohort(tmp_path, [
        {"patient": "a", "label": "T1", "shape": (20, 30, 40)},
        {"patient": "a", "label": "T2", "shape": (5, 7, 11), "stored_as": "SPL"},
        {"patient": "b", "label": "FLAIR", "shape": (64, 64, 3), "stored_as": "LPS"},
    ])
    index = extract_split_slices(manifest, splits, "train", tmp_path / "train.npy", tmp_path / "train.tsv", **SLICING)
    counts = index.groupby(["series_key", "plane"]).size().unstack()[PLANES]
    # round(0.3 n) half up, at least 1: 20->6, 30->9, 40->12; 5->2, 7->2, 11->3; 64->19, 3->1
    assert counts.loc["series00"].tolist() == [6, 9, 12]
    assert counts.loc["series01"].tolist() == [2, 2, 3]
    assert counts.loc["series02"].tolist() == [19, 19, 1]
    capped = extract_split_slices(
        manifest, splits, "train", tmp_path / "capped.npy", tmp_path / "capped.tsv",
        **{**SLICING, "max_slices_per_plane": 4},
    )
    assert capped.groupby(["series_key", "plane"]).size().unstack()[PLANES].values.tolist() == [
        [4, 4, 4], [2, 2, 3], [4, 4, 1],
    ]


def test_array_size_range_and_index_rows_match(tmp_path):
    rng = np.random.default_rng(1)
    manifest, splits = build_cohort(tmp_path, [
        {"patient": "a", "label": "T1", "shape": (12, 14, 10), "stored_as": "LPS"},
        {"patient": "a", "label": "ADC", "shape": (9, 9, 9), "volume": rng.normal(500, 80, (9, 9, 9)).astype(np.float32)},
        {"patient": "b", "label": "TOF", "shape": (8, 16, 6), "stored_as": "AIR"},
        {"patient": "b", "label": None, "shape": (8, 8, 8)},  # unlabelled: left out
        {"patient": "b", "label": "SWI", "shape": (8, 8, 8)},  # not one of the nine classes: left out
        {"patient": "test1", "label": "T1", "shape": (8, 8, 8)},  # other split: left out
    ])
    index = extract_split_slices(manifest, splits, "train", tmp_path / "train.npy", tmp_path / "train.tsv", **SLICING)
    slices = np.load(tmp_path / "train.npy", mmap_mode="r")
    assert slices.dtype == np.float16 and slices.shape == (len(index), 16, 16)
    assert float(slices.min()) >= 0.0 and float(slices.max()) <= 1.0 and float(slices.max()) > 0.9
    assert index["row"].tolist() == list(range(len(slices)))
    assert set(index["series_key"]) == {"series00", "series01", "series02"}
    pd.testing.assert_frame_equal(read_slice_index(tmp_path / "train.tsv"), index[INDEX_COLUMNS])
    # Every array row is the slice its index row names.
    paths = manifest.set_index("series_key")["nifti_path"]
    for series_key, rows in index.groupby("series_key"):
        volume = normalise_intensity(load_canonical(paths[series_key]))
        for plane, of_plane in rows.groupby("plane"):
            expected = resize_slices(plane_slices(volume, plane, of_plane["slice_index"].to_numpy()), 16)
            np.testing.assert_allclose(slices[of_plane["row"].to_numpy()], expected, atol=1e-3)


def test_planes_in_the_array_follow_anatomy(tmp_path):
    """A left->right ramp stored as LPS: sagittal slices are flat and brighten with x, others ramp across columns."""
    ramp = np.broadcast_to(np.arange(30, dtype=np.float32)[:, None, None], (30, 20, 10)).copy()
    manifest, splits = build_cohort(tmp_path, [{"patient": "a", "label": "T1", "volume": ramp, "stored_as": "LPS"}])
    index = extract_split_slices(manifest, splits, "train", tmp_path / "t.npy", tmp_path / "t.tsv", **SLICING)
    slices = np.load(tmp_path / "t.npy").astype(np.float32)
    sagittal = slices[index.loc[index["plane"] == "sagittal", "row"]]
    assert np.ptp(sagittal, axis=(1, 2)).max() < 1e-2
    assert np.all(np.diff(sagittal.mean(axis=(1, 2))) > 0)
    for plane in ("coronal", "axial"):
        image = slices[index.loc[index["plane"] == plane, "row"].iloc[0]]
        assert np.ptp(image, axis=0).max() < 1e-2  # constant down each column
        assert np.all(np.diff(image[0]) >= 0) and image[0, -1] - image[0, 0] > 0.9  # left->right


def test_same_inputs_give_identical_files_and_bad_inputs_fail(tmp_path):
    manifest, splits = build_cohort(tmp_path, [
        {"patient": "a", "label": "T1", "shape": (12, 14, 10), "stored_as": "LPS"},
        {"patient": "b", "label": "T2", "shape": (10, 10, 10)},
    ])
    for run in ("one", "two"):
        extract_split_slices(manifest, splits, "train", tmp_path / f"{run}.npy", tmp_path / f"{run}.tsv", **SLICING)
    assert (tmp_path / "one.npy").read_bytes() == (tmp_path / "two.npy").read_bytes()
    assert (tmp_path / "one.tsv").read_bytes() == (tmp_path / "two.tsv").read_bytes()
    # No test patient: an empty, loadable array.
    empty = extract_split_slices(manifest, splits, "test", tmp_path / "e.npy", tmp_path / "e.tsv", **SLICING)
    assert len(empty) == 0 and np.load(tmp_path / "e.npy").shape == (0, 16, 16)
    with pytest.raises(ValueError, match="re-run seqclass_split"):
        extract_split_slices(manifest, splits.iloc[:1], "train", tmp_path / "x.npy", tmp_path / "x.tsv", **SLICING)
    four_d = tmp_path / "4d.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 2), np.float32), np.eye(4)), four_d)
    with pytest.raises(ValueError, match="4d.nii.gz.*not 3D"):
        extract_split_slices(manifest.assign(nifti_path=str(four_d)), splits, "train",
                             tmp_path / "y.npy", tmp_path / "y.tsv", **SLICING)


def test_summarise_curation():
    def index(rows):
        return pd.DataFrame(rows, columns=["series_key", "label"]).assign(row=lambda d: range(len(d)))
    table = summarise_curation({
        "train": index([("s1", "T2"), ("s1", "T2"), ("s2", "T1"), ("s3", "Other")]),
        "val": index([]),
        "test": index([("s4", "T2"), ("s5", "T2"), ("s5", "T2")]),
    })
    assert table.columns.tolist() == [
        "label", "train_series", "train_slices", "val_series", "val_slices",
        "test_series", "test_slices", "total_series", "total_slices",
    ]
    assert table["label"].tolist() == ["T1", "T2", "Other", "total"]
    assert table.set_index("label").loc["T2"].tolist() == [1, 2, 0, 0, 2, 3, 3, 5]
    assert table.set_index("label").loc["total"].tolist() == [3, 4, 0, 0, 2, 3, 5, 7]
