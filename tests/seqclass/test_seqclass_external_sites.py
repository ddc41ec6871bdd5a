"""External sites of the seqclass transfer experiment: the layouts the readers take, BraTS-like
preprocessing (template grid, skull-stripped), determinism, and the transfer datasets' composition."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nibabel.processing import resample_from_to

from mrissl.seqclass.slices import INDEX_COLUMNS, SLICE_DTYPE, combine_transfer_split
from mrissl.phantoms.anatomy import grid_affine, mni_brain_mask, mni_head
from mrissl.phantoms.external_sites import ExternalSiteConfig, generate_external_site, template_grid
from mrissl.readers import read_dataset

SITES = {
    "brats_like": dict(layout="brats2021", classes=["T1", "T2", "FLAIR"], n_patients=2,
                       manufacturers=["GE MEDICAL SYSTEMS"], field_strengths_t=[3.0], matrix=[48, 64],
                       slice_thickness_mm=[3.0, 6.0], noise=[0.02, 0.04], bias_field=0.2, max_slices=48,
                       resample_mm=4.0),
    "adni_like": dict(layout="bids", classes=["T1", "T2"], n_patients=2, manufacturers=["SIEMENS"],
                      field_strengths_t=[1.5], matrix=[48, 64], slice_thickness_mm=[3.0, 6.0], noise=[0.01, 0.02],
                      bias_field=0.1, max_slices=48, resample_mm=None),
}


def digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sites")
    for name, section in SITES.items():
        generate_external_site(ExternalSiteConfig.from_config(name, section), name, 5, root / name / "data")
    return root


@pytest.mark.parametrize("name", SITES)
def test_each_site_is_read_back_by_its_layouts_reader(sites, name, tmp_path):
    spec = SITES[name]
    manifest, quarantine = read_dataset(spec["layout"], sites / name / "data", "salt", tmp_path / "nifti")
    assert quarantine.empty
    assert len(manifest) == spec["n_patients"] * len(spec["classes"])
    assert manifest["patient_key"].nunique() == spec["n_patients"]
    assert sorted(manifest["label"].unique()) == sorted(spec["classes"])


def test_brats_like_images_lie_on_the_template_grid_and_are_skull_stripped(sites):
    spec = SITES["brats_like"]
    shape, affine = template_grid(mni_head().brain_center, spec["resample_mm"])
    assert shape == (60, 60, 39)  # the 240 x 240 x 155 mm BraTS box at 4 mm
    mask = nib.Nifti1Image(mni_brain_mask(), grid_affine())
    brain = resample_from_to(mask, (shape, affine), order=1).get_fdata() >= 0.5
    files = sorted((sites / "brats_like" / "data").rglob("*.nii.gz"))
    assert len(files) == spec["n_patients"] * len(spec["classes"])
    for path in files:
        image = nib.load(path)
        assert image.shape == shape and np.allclose(image.affine, affine)
        volume = np.asarray(image.dataobj)
        assert (volume[~brain] == 0).all(), path.name        # nothing outside the brain mask
        assert (volume[brain] > 0).mean() > 0.75, path.name  # the brain has signal (a slab may miss its edge)


def test_adni_like_keeps_the_acquisition_and_writes_sidecars(sites):
    files = sorted((sites / "adni_like" / "data").rglob("*.nii.gz"))
    shapes = {nib.load(path).shape for path in files}
    assert len(shapes) > 1  # each series keeps its own grid
    for path in files:
        assert path.with_name(path.name.replace(".nii.gz", ".json")).is_file()


def test_same_seed_same_bytes(sites, tmp_path):
    section = SITES["adni_like"]
    generate_external_site(ExternalSiteConfig.from_config("adni_like", section), "adni_like", 5, tmp_path / "data")
    assert digest(tmp_path / "data") == digest(sites / "adni_like" / "data")


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="external_sites.x has unknown keys"):
        ExternalSiteConfig.from_config("x", {**SITES["adni_like"], "colour": 1})
    with pytest.raises(ValueError, match="external_sites.x.classes"):
        ExternalSiteConfig.from_config("x", {**SITES["adni_like"], "classes": ["TOF"]})


def slice_set(labels: list[str], patients: list[str], value: float) -> tuple[np.ndarray, pd.DataFrame]:
    images = (np.arange(len(labels), dtype=np.float32)[:, None, None] / 100 + value) * np.ones((1, 4, 4))
    index = pd.DataFrame({"row": range(len(labels)), "series_key": [f"{p}-{i}" for i, p in enumerate(patients)],
                          "study_key": patients, "patient_key": patients, "plane": "axial", "slice_index": 0,
                          "label": labels})
    return images.astype(SLICE_DTYPE), index[INDEX_COLUMNS]


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_transfer_split_replaces_the_sites_classes(split, tmp_path):
    internal = slice_set(["T1", "T2", "TOF", "ADC", "T1"], ["a", "a", "b", "b", "c"], 0.0)
    site = slice_set(["T1", "T2", "T2"], ["x", "y", "y"], 0.5)
    index = combine_transfer_split(internal, site, ["T1", "T2"], split, tmp_path / "s.npy", tmp_path / "s.tsv")
    images = np.load(tmp_path / "s.npy")
    assert list(index["row"]) == list(range(len(images)))
    expected_internal = [] if split == "test" else [3, 2]  # ADC and TOF (by class): the site replaces T1 and T2
    assert list(index["label"]) == ["ADC", "TOF"][: len(expected_internal)] + ["T1", "T2", "T2"]
    np.testing.assert_array_equal(images, np.concatenate([internal[0][expected_internal], site[0]]))
    assert pd.read_csv(tmp_path / "s.tsv", sep="\t")["series_key"].tolist() == index["series_key"].tolist()


def test_transfer_split_refuses_site_slices_outside_its_classes(tmp_path):
    internal = slice_set(["T1"], ["a"], 0.0)
    site = slice_set(["T1", "FLAIR"], ["x", "x"], 0.5)
    with pytest.raises(ValueError, match="FLAIR"):
        combine_transfer_split(internal, site, ["T1"], "train", tmp_path / "s.npy", tmp_path / "s.tsv")


def test_transfer_split_takes_as_many_internal_slices_per_class_as_the_site_has(tmp_path):
    # Site: 2 classes, 6 slices -> 3 per class. Internal TOF: series of 2, 2 and 2 slices -> the first two series.
    labels, patients = ["TOF"] * 6 + ["T1"] * 4, ["a", "a", "b", "b", "c", "c", "d", "d", "d", "d"]
    internal = slice_set(labels, patients, 0.0)
    internal[1]["series_key"] = ["s1", "s1", "s2", "s2", "s3", "s3", "t1", "t1", "t1", "t1"]
    site = slice_set(["T1", "T1", "T1", "T2", "T2", "T2"], ["x"] * 3 + ["y"] * 3, 0.5)
    index = combine_transfer_split(internal, site, ["T1", "T2"], "train", tmp_path / "s.npy", tmp_path / "s.tsv")
    assert index.loc[index["label"] == "TOF", "series_key"].tolist() == ["s1", "s1", "s2", "s2"]
    assert (index["label"].isin(["T1", "T2"])).sum() == 6  # internal T1 replaced by the site's
