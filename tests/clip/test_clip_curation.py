"""Curation of the clip cohort: rigid registration recovers known motion, stacked volumes, balanced patient splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

from mrissl.clip.curation import CLIP_SPLITS_COLUMNS, INDEX_COLUMNS, balanced_split, curate_clip_cohort, study_table
from mrissl.splits import assert_disjoint_splits
from mrissl.clip import CHANNEL_LABELS, CHANNELS
from mrissl.clip.registration import (
    QC_COLUMNS,
    OutputGrid,
    RegistrationSettings,
    rigid_register,
)
from mrissl.phantoms.pathology import PathologyCohortConfig, generate_pathology_cohort
from mrissl.phantoms.pathology_reports import CLASSES
from mrissl.readers import read_dataset
from mrissl.readers.rows import patient_key
from mrissl.manifest import salted_key

SETTINGS = RegistrationSettings(seed=1)


def head_phantom() -> sitk.Image:
    """A head-like volume (skin, skull gap, brain with ventricles and a lateral lesion) on a 1.2 x 1.2 x 3 mm grid."""
    axes = [np.arange(n) * s - n * s / 2 for n, s in zip((160, 190, 40), (1.2, 1.2, 3.0))]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)  # (x, y, z, 3) mm about the centre

    def radius(center, radii):
        return np.sqrt((((grid - np.array(center)) / np.array(radii)) ** 2).sum(axis=-1))

    r = radius((0, 0, 0), (70, 90, 60))
    ventricles, lesion = radius((0, -5, 5), (12, 30, 15)), radius((30, 20, 10), (9, 9, 9))
    volume = np.where(r < 1.0, 1.0, 0.0) + np.where(r < 0.9, -0.8, 0.0) + np.where(r < 0.85, 0.5, 0.0)
    volume += 0.3 * (ventricles < 1) + 0.4 * (lesion < 1)
    image = sitk.GetImageFromArray(volume.transpose(2, 1, 0).astype(np.float32))
    image.SetSpacing((1.2, 1.2, 3.0))
    return sitk.SmoothingRecursiveGaussian(image, 1.0)


def test_rigid_registration_recovers_a_known_motion_within_a_voxel():
    fixed = head_phantom()
    center = np.array(fixed.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in fixed.GetSize()]))
    truth = sitk.Euler3DTransform()
    truth.SetCenter(center.tolist())
    truth.SetRotation(*np.radians([4.0, -3.0, 5.0]))
    truth.SetTranslation((4.0, -3.0, 2.5))
    # The moving series: another grid (oblique, 1.5 x 1.5 x 5 mm) and another contrast (inverted inside the head).
    reference = sitk.Image([130, 150, 26], sitk.sitkFloat32)
    reference.SetSpacing((1.5, 1.5, 5.0))
    reference.SetDirection(Rotation.from_euler("x", 10, degrees=True).as_matrix().ravel().tolist())
    reference.SetOrigin((center - reference.TransformContinuousIndexToPhysicalPoint(
        [(n - 1) / 2 for n in reference.GetSize()]) + np.array(reference.GetOrigin())).tolist())
    # moving(q) = fixed(truth^-1 q): a fixed point p sits at truth(p) in the moving frame.
    moving = sitk.Resample(fixed, reference, truth.GetInverse(), sitk.sitkLinear, 0.0)
    moving = sitk.Mask(1.5 - moving, moving > 0.05)
    found, _ = rigid_register(fixed, moving, SETTINGS)
    points = [fixed.TransformIndexToPhysicalPoint(index) for index in
              np.argwhere(sitk.GetArrayFromImage(fixed) > 0.3)[::97, ::-1].tolist()]
    errors = [np.linalg.norm(np.subtract(found.TransformPoint(p), truth.TransformPoint(p))) for p in points]
    before = [np.linalg.norm(np.subtract(p, truth.TransformPoint(p))) for p in points]
    assert np.mean(before) > 4.0  # a motion of several mm
    assert np.mean(errors) < min(fixed.GetSpacing())  # recovered within one voxel
    assert np.max(errors) < 2 * min(fixed.GetSpacing())


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    config = PathologyCohortConfig(
        n_subjects=4, follow_up_rate=0.25, class_weights=dict.fromkeys(CLASSES, 1.0), matrix=(96, 128),
        slice_thickness_mm=(4.0, 6.0), field_strengths_t=(1.5,), noise=(0.01, 0.02), bias_field=0.2,
        motion_mm=6.0, motion_deg=5.0, report_noise=0.0,
    )
    generate_pathology_cohort(config, 11, root / "data", root / "reports.tsv", root / "labels.tsv", root / "motion.tsv")
    manifest, _ = read_dataset("bids", root / "data", "salt", root / "nifti")
    tables = {name: pd.read_csv(root / f"{name}.tsv", sep="\t", dtype={"subject": str, "session": str},
                                keep_default_na=False) for name in ("reports", "labels", "motion")}
    grid = OutputGrid((56, 56, 8), (4.0, 4.0, 16.0))
    index, qc, preview = curate_clip_cohort(
        manifest, tables["reports"], tables["labels"], tables["motion"], salt="salt", source="bids", grid=grid,
        settings=SETTINGS, array_path=root / "volumes.npy", workers=2, preview_studies=1,
    )
    return root, manifest, index, qc, preview


def test_studies_are_registered_and_stacked(curated):
    root, manifest, index, qc, preview = curated
    volumes = np.load(root / "volumes.npy", mmap_mode="r")
    assert volumes.shape == (5, len(CHANNELS), 56, 56, 8) and volumes.dtype == np.float32
    assert list(index.columns) == INDEX_COLUMNS and index["row"].tolist() == list(range(5))
    assert index["study_key"].is_monotonic_increasing and set(index["study_key"]) == set(manifest["study_key"])
    assert index["report"].str.len().gt(10).all() and (index["report_class"] == index["true_class"]).all()
    for channel in range(len(CHANNELS)):  # every channel scaled to a 99th percentile of 1, none empty
        assert np.allclose([np.percentile(v[v > 0], 99) for v in volumes[:, channel]], 1.0, atol=0.05)
    assert list(qc.columns) == QC_COLUMNS and len(qc) == 10
    assert (qc["nmi_after"] > qc["nmi_before"]).mean() >= 0.8
    assert (qc["error_after_mm"] < qc["error_before_mm"]).all()
    assert qc["error_after_mm"].mean() < 2.0 < qc["error_before_mm"].mean()
    (key,) = {k.rsplit("_", 1)[0] for k in preview}
    row = int(index.loc[index["study_key"] == key, "row"].iloc[0])
    assert np.array_equal(preview[f"{key}_after"], volumes[row])
    assert not np.array_equal(preview[f"{key}_before"], volumes[row])


def test_registration_is_reproducible(curated, tmp_path):
    root, manifest, index, qc, _ = curated
    tables = {name: pd.read_csv(root / f"{name}.tsv", sep="\t", dtype={"subject": str, "session": str},
                                keep_default_na=False) for name in ("reports", "labels", "motion")}
    again, qc_again, _ = curate_clip_cohort(
        manifest, tables["reports"], tables["labels"], tables["motion"], salt="salt", source="bids",
        grid=OutputGrid((56, 56, 8), (4.0, 4.0, 16.0)), settings=SETTINGS, array_path=tmp_path / "volumes.npy",
        workers=1,
    )
    pd.testing.assert_frame_equal(qc_again, qc)
    assert (tmp_path / "volumes.npy").read_bytes() == (root / "volumes.npy").read_bytes()


def split_index(n_patients: int, follow_up_every: int = 4) -> pd.DataFrame:
    rows = []
    for p in range(n_patients):
        for s in range(2 if p % follow_up_every == 0 else 1):
            rows.append({"patient_key": f"p{p:03d}", "study_key": f"s{p:03d}{s}", "report_class": CLASSES[p % 5]})
    return pd.DataFrame(rows)


def test_balanced_split_by_patient():
    index = split_index(60)
    splits = balanced_split(index, {"train": None, "val": 10, "test": 10}, seed=3)
    assert list(splits.columns) == CLIP_SPLITS_COLUMNS
    assert splits.groupby("patient_key")["split"].nunique().eq(1).all()  # no patient crosses
    assert len(splits) == len(index)
    for name in ("val", "test"):  # a patient with two studies may put one class one study ahead
        counts = splits.loc[splits["split"] == name, "report_class"].value_counts()
        assert counts.sum() == 10 and set(counts.index) == set(CLASSES) and counts.max() - counts.min() <= 2
    single = balanced_split(split_index(60, follow_up_every=10**6), {"train": None, "val": 10, "test": 10}, seed=3)
    assert (single[single["split"] != "train"].groupby("split")["report_class"].value_counts() == 2).all()
    shuffled = index.sample(frac=1, random_state=0)
    assert splits.equals(balanced_split(shuffled, {"train": None, "val": 10, "test": 10}, seed=3))
    paper = balanced_split(split_index(400), {"train": 211, "val": 24, "test": 27}, seed=3)
    assert paper["split"].value_counts().to_dict() == {"train": 211, "test": 27, "val": 24}


def test_balanced_split_fails_loudly():
    with pytest.raises(ValueError, match="got no study"):
        balanced_split(split_index(4), {"train": None, "val": 3, "test": 3}, seed=0)
    with pytest.raises(ValueError, match="must name"):
        balanced_split(split_index(10), {"train": None, "test": 3}, seed=0)
    crossing = balanced_split(split_index(20), {"train": None, "val": 5, "test": 5}, seed=0)
    crossing.loc[crossing["patient_key"] == "p000", "split"] = ["train", "test"]
    with pytest.raises(ValueError, match="more than one split"):
        assert_disjoint_splits(crossing, "patient_key")


def test_study_table_scrubs_identifiers_from_the_reports():
    study = salted_key("salt", "bids:01:1")
    manifest = pd.DataFrame({"study_key": study, "patient_key": patient_key("salt", "bids", "01"),
                             "label": list(CHANNEL_LABELS.values()), "series_key": ["a", "b", "c"],
                             "nifti_path": ["a.nii.gz", "b.nii.gz", "c.nii.gz"]})
    keys = {"subject": ["sub-01"], "session": ["ses-1"]}
    reports = pd.DataFrame({**keys, "report": ["Acute infarct in the left MCA territory, 12 mm, b=1000. "
                                               "Reported by Dr Jane Doe on 14/03/2019, MRN 00123456."]})
    labels = pd.DataFrame({**keys, "report_class": ["infarct"], "true_class": ["infarct"]})
    (report,) = study_table(manifest, reports, labels, "salt", "bids")["report"]
    assert report == ("Acute infarct in the left MCA territory, 12 mm, b=1000. "
                      "Reported by [name] on [date], MRN [id].")
