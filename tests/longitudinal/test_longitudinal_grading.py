"""Transfer to disc grading (paper 002, 4.2): the grading split, nested subsets, metric, one small run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mrissl.longitudinal.augment import AugmentConfig
from mrissl.longitudinal.grading import (
    RESULT_COLUMNS,
    GradingConfig,
    SupervisedConfig,
    average_class_accuracy,
    epoch_order,
    grade_discs,
    grading_split,
    nested_subsets,
    subset_sizes,
    supervised_pretrain,
)
from mrissl.longitudinal.models import NetworkConfig
from mrissl.longitudinal.vertebrae import INDEX_COLUMNS, IVD_LEVELS

PAPER = {"train": 670, "val": 50, "test": 200}


def scan_table(n_subjects: int = 92, seed: int = 0) -> pd.DataFrame:
    """Subjects 2k and 2k + 1 of the first 30 are twins; a third have a follow-up scan."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        group = f"g{s // 2}" if s < 30 else f"s{s}"
        for t in range(1 + int(rng.random() < 0.35)):
            rows.append({"scan_key": f"sc{s}_{t}", "subject_key": f"s{s}", "group_key": group, "timepoint": t})
    return pd.DataFrame(rows)


def test_grading_split_keeps_follow_ups_in_training():
    scans = scan_table()
    graded = set(scans.loc[~scans["subject_key"].isin(["s3", "s40"]), "scan_key"])   # two subjects ungraded
    split = grading_split(scans, graded, PAPER, seed=1)
    assert set(split["subject_key"]) == set(scans["subject_key"]) - {"s3", "s40"}
    followed = set(scans.loc[scans["timepoint"] > 0, "subject_key"])
    assert (split.loc[split["subject_key"].isin(followed), "split"] == "train").all()
    assert split["follow_up"].eq(split["subject_key"].isin(followed)).all()
    assert split.groupby("group_key")["split"].nunique().max() == 1      # twins together
    n = len(split)
    counts = split["split"].value_counts()
    assert counts["test"] == round(n * 200 / 920) and counts["val"] == round(n * 50 / 920)
    train = split[split["split"] == "train"]
    assert sorted(train["order"]) == list(range(len(train)))
    assert (split.loc[split["split"] != "train", "order"] == -1).all()
    pd.testing.assert_frame_equal(split, grading_split(scans, graded, PAPER, seed=1))


def test_nested_subsets():
    split = grading_split(scan_table(), set(scan_table()["scan_key"]), PAPER, seed=2)
    n_train = int((split["split"] == "train").sum())
    assert subset_sizes(670, (240, 361, 670)) == [240, 361, 670]
    subsets = nested_subsets(split, (240, 361, 670))
    sizes = list(subsets)
    assert sizes == subset_sizes(n_train, (240, 361, 670)) and sizes[-1] == n_train
    members = list(subsets.values())
    assert members[0] < members[1] < members[2]
    assert members[2] == set(split.loc[split["split"] == "train", "subject_key"])


def test_epoch_order_gives_small_subsets_as_many_steps():
    rng = np.random.default_rng(0)
    train = np.arange(10, 40)
    assert sorted(epoch_order(train, 8, 1, rng)) == list(train)            # one pass, shuffled
    order = epoch_order(train, 8, 7, rng)                                   # 7 batches of 8 from 30 discs
    assert len(order) == 56 and set(order) == set(train)
    assert sorted(order[:30]) == list(train)                                # whole passes first
    assert sorted(epoch_order(train, 8, 2, rng)) == list(train)            # already 4 batches: unchanged


def test_average_class_accuracy():
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    predictions = np.array([0, 0, 0, 1, 1, 0, 2, 2])
    # Rows of the normalised confusion matrix: 3/4, 1/2, 1 (class 3 absent): mean 0.75.
    assert average_class_accuracy(labels, predictions) == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert average_class_accuracy(labels, np.zeros(8, int)) == pytest.approx(1 / 3)


def disc_cohort(tmp_path):
    """A small graded cohort whose grade shows as the disc's brightness, with its IVD array."""
    scans = scan_table(40, seed=3)
    rng = np.random.default_rng(4)
    rows, volumes = [], []
    for scan in scans.itertuples():
        for level_index, level in enumerate(IVD_LEVELS):
            grade = int(rng.integers(1, 5))
            volume = rng.normal(0.0, 0.05, (16, 16, 3)) + 0.3 * (5 - grade)
            volumes.append(volume)
            rows.append({"kind": "IVD", "row": len(rows), "scan_key": scan.scan_key, "subject_key": scan.subject_key,
                         "group_key": scan.group_key, "timepoint": scan.timepoint, "level": level,
                         "level_index": level_index, "grade": grade if level_index else pd.NA, "mid_slice": 1,
                         "width_mm": 40.0})
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS).astype({"grade": "Int64"})
    return scans, index, np.stack(volumes).astype(np.float16)


NETWORK = NetworkConfig(width=0.125, fc_width=16, conv1_stride=1, conv4_padding=1)
STILL = AugmentConfig(rotation_deg=0.0, max_shift_fraction=(0.0, 0.0), max_shift_slices=0, scale=(1.0, 1.0))


@pytest.mark.parametrize("init", ["scratch", "random", "longitudinal"])
def test_grade_discs_runs_and_resumes(tmp_path, init):
    scans, index, ivd = disc_cohort(tmp_path)
    split = grading_split(scans, set(scans["scan_key"]), PAPER, seed=0)
    config = GradingConfig(subset_sizes=(1, 2), epochs=6, scratch_epochs=2, batch_size=32, lr=0.01,
                           feature_views=2, network=NETWORK, augment=STILL, threads=1)
    weights = None
    if init == "longitudinal":
        torch.manual_seed(9)
        from mrissl.longitudinal.models import VGGMNet
        weights = VGGMNet((16, 16, 3), 7, NETWORK).state_dict()
    result = grade_discs(ivd, index, split, init, config, tmp_path / "ck", weights)
    assert list(result.results.columns) == RESULT_COLUMNS
    assert len(result.results) == 2
    assert result.results["subjects"].tolist()[1] == int((split["split"] == "train").sum())
    assert (result.results["discs"] == 5 * result.results["scans"]).all()      # L1-L2..L5-S1 graded
    assert result.results["average_class_accuracy"].between(0, 1).all()
    again = grade_discs(ivd, index, split, init, config, tmp_path / "ck", weights)   # finished runs: no retraining
    pd.testing.assert_frame_equal(result.results, again.results)
    pd.testing.assert_frame_equal(result.history, again.history)


def test_supervised_pretrain(tmp_path):
    scans, index, ivd = disc_cohort(tmp_path)
    split = grading_split(scans, set(scans["scan_key"]), PAPER, seed=0)
    gradings = index[index["grade"].notna()][["scan_key", "level", "grade"]].assign(
        disc_narrowing=lambda d: (d["grade"] >= 3).astype(int))
    weights, history = supervised_pretrain(ivd, index, gradings, split,
                                           SupervisedConfig(epochs=2, batch_size=64, lr=0.01, network=NETWORK,
                                                            augment=STILL, threads=1), tmp_path / "sup")
    assert len(history) == 2 and any(k.startswith("features.") for k in weights)
