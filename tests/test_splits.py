"""Patient-level splits: proportions, no leaks across patients or family groups, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrissl.seqclass import SEQUENCE_CLASSES
from mrissl.splits import assert_disjoint_splits, folds_per_split, split_patients
from mrissl.manifest import MANIFEST_COLUMNS

FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}


def make_manifest(n_patients: int, seed: int = 0, twin_pairs: int = 0, unlabelled_patients: int = 0) -> pd.DataFrame:
    """A manifest with every schema column: 1-3 studies per patient, 3-9 labelled series per study.

    The first ``2 * twin_pairs`` patients share a group key pairwise; the last ``unlabelled_patients``
    patients have only unlabelled series.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        group = f"g{p // 2:03d}" if p < 2 * twin_pairs else f"p{p:03d}"
        for s in range(rng.integers(1, 4)):
            labels = rng.choice(SEQUENCE_CLASSES, size=rng.integers(3, 10), replace=False)
            for label in labels:
                rows.append({
                    "patient_key": f"p{p:03d}", "study_key": f"p{p:03d}s{s}",
                    "series_key": f"p{p:03d}s{s}{label}", "source": "phantom",
                    "label": None if p >= n_patients - unlabelled_patients else label,
                    "group_key": group, "nifti_path": f"nifti/p{p:03d}s{s}{label}.nii.gz",
                })
    return pd.DataFrame(rows).reindex(columns=MANIFEST_COLUMNS)


def test_folds_per_split():
    assert folds_per_split(FRACTIONS) == {"train": 7, "val": 1, "test": 2}
    assert folds_per_split({"train": 0.6, "val": 0.2, "test": 0.2}) == {"train": 3, "val": 1, "test": 1}
    with pytest.raises(ValueError, match="sum to 1"):
        folds_per_split({"train": 0.7, "val": 0.2, "test": 0.2})
    with pytest.raises(ValueError, match="must name exactly"):
        folds_per_split({"train": 0.8, "test": 0.2})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_proportions_within_tolerance_and_classes_balanced(seed):
    manifest = make_manifest(100, seed=seed)
    splits = split_patients(manifest, FRACTIONS, seed=seed)
    assert len(splits) == 100 and splits["patient_key"].is_unique
    share = splits["split"].value_counts(normalize=True)
    for name, target in FRACTIONS.items():
        assert abs(share[name] - target) <= 0.05, share.to_dict()
    labelled = manifest.merge(splits[["patient_key", "split"]], on="patient_key")
    class_share = pd.crosstab(labelled["label"], labelled["split"], normalize="index")
    for name, target in FRACTIONS.items():
        assert (class_share[name] - target).abs().max() <= 0.06, class_share


def test_every_patient_once_and_groups_kept_together():
    manifest = make_manifest(60, seed=3, twin_pairs=15)
    splits = split_patients(manifest, FRACTIONS, seed=7)
    assert sorted(splits["patient_key"]) == sorted(manifest["patient_key"].unique())
    assert splits.groupby("patient_key")["split"].nunique().max() == 1
    twins = splits[splits["group_key"].str.startswith("g")]
    assert len(twins) == 30
    assert twins.groupby("group_key")["split"].nunique().max() == 1
    assert twins.groupby("group_key").size().eq(2).all()


def test_deterministic_and_independent_of_row_order():
    manifest = make_manifest(40, seed=5)
    first = split_patients(manifest, FRACTIONS, seed=11)
    shuffled = manifest.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(first, split_patients(shuffled, FRACTIONS, seed=11))
    other_seed = split_patients(manifest, FRACTIONS, seed=12)
    assert not first["split"].equals(other_seed["split"])


def test_unlabelled_patients_get_a_split():
    manifest = make_manifest(30, seed=2, unlabelled_patients=5)
    splits = split_patients(manifest, FRACTIONS, seed=0)
    assert len(splits) == 30 and splits["split"].isin(FRACTIONS).all()


def test_empty_group_key_means_own_group():
    manifest = make_manifest(20, seed=4).assign(group_key=np.nan)
    splits = split_patients(manifest, FRACTIONS, seed=0)
    assert (splits["group_key"] == splits["patient_key"]).all()


def test_too_few_groups_or_two_groups_per_patient_fail():
    with pytest.raises(ValueError, match="cannot be split"):
        split_patients(make_manifest(6), FRACTIONS, seed=0)
    manifest = make_manifest(20)
    manifest.loc[manifest.index[0], "group_key"] = "elsewhere"
    with pytest.raises(ValueError, match="several group_key"):
        split_patients(manifest, FRACTIONS, seed=0)


def test_assert_disjoint_splits_raises_on_a_leak():
    good = pd.DataFrame({
        "patient_key": ["a", "b", "c", "d"], "group_key": ["g1", "g1", "g2", "g3"],
        "split": ["train", "train", "val", "test"],
    })
    assert_disjoint_splits(good, "patient_key")
    assert_disjoint_splits(good, "group_key")
    twin_leak = good.assign(split=["train", "test", "val", "test"])
    assert_disjoint_splits(twin_leak, "patient_key")
    with pytest.raises(ValueError, match="group_key"):
        assert_disjoint_splits(twin_leak, "group_key")
    patient_leak = pd.concat([good, good.iloc[[2]].assign(split="train")])
    with pytest.raises(ValueError, match="'c'"):
        assert_disjoint_splits(patient_leak, "patient_key")
