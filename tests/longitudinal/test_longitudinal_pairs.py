"""The Siamese pair sampler (paper 002, 2.2, Fig. 3) on a cohort whose every pair is known."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from mrissl.longitudinal.pairs import (
    PAIR_COLUMNS,
    evaluation_pairs,
    positive_pairs,
    sample_epoch_pairs,
    vb_table,
)
from mrissl.longitudinal.vertebrae import INDEX_COLUMNS, VB_LEVELS

# subject: (scans, twin group, zygosity, split)
SUBJECTS = {
    "s1": (2, "s1", "", "train"),
    "s2": (3, "s2", "", "train"),
    "s3": (2, "t1", "MZ", "train"),   # s3 and s4: monozygotic twins
    "s4": (2, "t1", "MZ", "train"),
    "s5": (1, "s5", "", "train"),      # no follow-up
    "s6": (2, "t2", "DZ", "val"),
    "s7": (1, "t2", "DZ", "val"),
    "s8": (2, "s8", "", "val"),
}


def cohort() -> pd.DataFrame:
    rows, scans, splits = [], [], []
    for subject, (n_scans, group, zygosity, split) in SUBJECTS.items():
        splits.append({"patient_key": subject, "group_key": group, "split": split})
        for t in range(n_scans):
            scan = f"{subject}_{t}"
            scans.append({"scan_key": scan, "subject_key": subject, "zygosity": zygosity})
            for level_index, level in enumerate(VB_LEVELS):
                rows.append({"kind": "VB", "row": len(rows), "scan_key": scan, "subject_key": subject,
                             "group_key": group, "timepoint": t, "level": level, "level_index": level_index,
                             "grade": pd.NA, "mid_slice": 4, "width_mm": 40.0})
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    return vb_table(index, pd.DataFrame(scans), pd.DataFrame(splits))


def lookup(table: pd.DataFrame, pairs: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    by_row = table.set_index("row")[column]
    return by_row.loc[pairs["a"]].to_numpy(), by_row.loc[pairs["b"]].to_numpy()


def expected_positives(split: str) -> int:
    return sum(len(list(combinations(range(n), 2))) * len(VB_LEVELS)
               for n, _, _, s in SUBJECTS.values() if s == split)


@pytest.mark.parametrize("epoch", [0, 1, 5])
def test_epoch_pairs_balanced_same_level_same_split(epoch):
    table = cohort()
    pairs = sample_epoch_pairs(table, "train", seed=3, epoch=epoch)
    assert list(pairs.columns) == PAIR_COLUMNS
    assert (pairs["same"] == 1).sum() == (pairs["same"] == 0).sum() == expected_positives("train")
    level_a, level_b = lookup(table, pairs, "level_index")
    assert (level_a == level_b).all() and (pairs["level_index"] == level_a).all()
    split_a, split_b = lookup(table, pairs, "split")
    assert (split_a == "train").all() and (split_b == "train").all()
    subject_a, subject_b = lookup(table, pairs, "subject_key")
    assert ((subject_a == subject_b) == (pairs["same"] == 1)).all()
    scan_a, scan_b = lookup(table, pairs, "scan_key")
    assert (scan_a != scan_b).all()
    # Only subjects with follow-up scans train the network (s5 has none).
    assert "s5" not in set(subject_a) | set(subject_b)


def test_twins_are_never_the_same_subject():
    table = cohort()
    for pairs in (evaluation_pairs(table, "train"), sample_epoch_pairs(table, "train", 0, 0)):
        subject_a, subject_b = lookup(table, pairs, "subject_key")
        twins = {frozenset(p) for p in zip(subject_a, subject_b)} & {frozenset(("s3", "s4"))}
        between = np.array([{a, b} == {"s3", "s4"} for a, b in zip(subject_a, subject_b)])
        assert (pairs.loc[between, "same"] == 0).all()
        assert (pairs.loc[between, "relation"] == "MZ twin").all()
        assert twins or not between.any()
    val = evaluation_pairs(table, "val")
    subject_a, subject_b = lookup(table, val, "subject_key")
    dz = np.array([{a, b} == {"s6", "s7"} for a, b in zip(subject_a, subject_b)])
    assert dz.sum() == 2 * 1 * len(VB_LEVELS)          # s6's two scans x s7's one, per level
    assert (val.loc[dz, "relation"] == "DZ twin").all() and (val.loc[dz, "same"] == 0).all()


def test_evaluation_pairs_are_all_pairs_of_the_split():
    table = cohort()
    val = evaluation_pairs(table, "val")
    n_val_scans = sum(n for n, _, _, s in SUBJECTS.values() if s == "val")
    assert len(val) == len(list(combinations(range(n_val_scans), 2))) * len(VB_LEVELS)
    assert (val["same"] == 1).sum() == expected_positives("val")
    split_a, split_b = lookup(table, val, "split")
    assert (split_a == "val").all() and (split_b == "val").all()
    assert set(val["relation"]) == {"same subject", "DZ twin", "unrelated"}
    assert len(positive_pairs(table, "train")) == expected_positives("train")


def test_epoch_pairs_redrawn_per_epoch_and_reproducible():
    table = cohort()
    first = sample_epoch_pairs(table, "train", 1, 0)
    pd.testing.assert_frame_equal(first, sample_epoch_pairs(table, "train", 1, 0))
    assert not first.equals(sample_epoch_pairs(table, "train", 1, 1))
    limited = sample_epoch_pairs(table, "train", 1, 0, max_positives=10)
    assert (limited["same"] == 1).sum() == (limited["same"] == 0).sum() == 10


def test_vb_table_needs_every_subject_split():
    table = cohort()
    index = table.assign(kind="VB", level="L1", grade=pd.NA, mid_slice=4, width_mm=40.0)
    with pytest.raises(ValueError, match="no split"):
        vb_table(index, table[["scan_key", "subject_key", "zygosity"]],
                 pd.DataFrame({"patient_key": ["s1"], "group_key": ["s1"], "split": ["train"]}))
