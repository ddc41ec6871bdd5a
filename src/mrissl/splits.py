"""Patient-level train/val/test splits that never let a patient or a family/twin group leak.

Every patient in the manifest gets a split, whether or not their series carry a label: unlabelled
series are left out of the supervised slice arrays, but a split for their patient lets any later
use of them (pretraining on unlabelled data) stay on the same side of the train/test wall.

Splits are drawn with scikit-learn's ``StratifiedGroupKFold`` over the manifest's series: groups are
the ``group_key`` (a family or twin group, else the patient), the stratum of a series is its label
("unlabelled" when empty), so each split gets about the same class mix. The split fractions are
turned into whole folds (0.7/0.1/0.2 -> 7, 1 and 2 of 10 folds), which is why they must be
multiples of 1/20.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from mrissl.manifest import read_checked_table

SPLIT_NAMES = ("train", "val", "test")
SPLITS_COLUMNS = ["patient_key", "group_key", "split"]
UNLABELLED = "unlabelled"
MAX_FOLDS = 20

log = logging.getLogger(__name__)


def assert_disjoint_splits(df: pd.DataFrame, key: str, split_column: str = "split") -> None:
    """Raise ``ValueError`` if any value of ``df[key]`` appears in more than one split.

    Reused by every cohort that splits data: call it with ``key="patient_key"`` and with
    ``key="group_key"`` on any table that has a split column.
    """
    n_splits = df.groupby(key)[split_column].nunique()
    leaking = n_splits[n_splits > 1]
    if len(leaking):
        examples = {k: sorted(df.loc[df[key] == k, split_column].unique()) for k in leaking.index[:5]}
        raise ValueError(
            f"{len(leaking)} {key} value(s) fall in more than one split, e.g. {examples}: "
            f"the split table leaks between train and evaluation data; rebuild it from the manifest"
        )


def read_splits(path: Path | str) -> pd.DataFrame:
    """Read a splits TSV written by a split rule (``seqclass_split``, ``longitudinal_split``) (keys stay strings)."""
    return read_checked_table(path, SPLITS_COLUMNS, "splits table", "re-run the split rule that wrote it", dtype=str,
                              keep_default_na=False)


def folds_per_split(fractions: Mapping[str, float]) -> dict[str, int]:
    """Whole folds per split for ``fractions`` (train/val/test): 0.7/0.1/0.2 -> 7/1/2."""
    if set(fractions) != set(SPLIT_NAMES):
        raise ValueError(f"split fractions must name exactly {list(SPLIT_NAMES)}, got {sorted(fractions)}")
    exact = {name: Fraction(fractions[name]).limit_denominator(MAX_FOLDS) for name in SPLIT_NAMES}
    if sum(exact.values()) != 1 or any(f <= 0 for f in exact.values()):
        raise ValueError(
            f"curate.split_fractions {dict(fractions)} must be positive multiples of 1/{MAX_FOLDS} "
            f"that sum to 1 (e.g. train 0.7, val 0.1, test 0.2)"
        )
    n_folds = math.lcm(*(f.denominator for f in exact.values()))
    return {name: int(exact[name] * n_folds) for name in SPLIT_NAMES}


def split_patients(manifest: pd.DataFrame, fractions: Mapping[str, float], seed: int) -> pd.DataFrame:
    """One row per patient of ``manifest``: ``patient_key``, ``group_key``, ``split``.

    Deterministic for ``seed`` and independent of the manifest's row order. An empty
    ``group_key`` means the patient is their own group. Raises ``ValueError`` when a patient has
    two group keys, when there are fewer groups than folds, or (as a final check) when a patient or
    group would land in two splits.
    """
    series = manifest[["patient_key", "group_key", "series_key", "label"]].copy()
    series["group_key"] = series["group_key"].astype(object).fillna(series["patient_key"])
    series["label"] = series["label"].fillna(UNLABELLED)
    series = series.sort_values(["group_key", "patient_key", "series_key"], ignore_index=True)

    groups_per_patient = series.groupby("patient_key")["group_key"].nunique()
    if (groups_per_patient > 1).any():
        bad = list(groups_per_patient[groups_per_patient > 1].index[:5])
        raise ValueError(f"patients {bad} have several group_key values in the manifest; give each one group")

    folds = folds_per_split(fractions)
    n_folds = sum(folds.values())
    n_groups = series["group_key"].nunique()
    if n_groups < n_folds:
        raise ValueError(
            f"{n_groups} patient groups cannot be split {dict(fractions)} ({n_folds} folds): "
            f"add patients or use coarser curate.split_fractions"
        )
    fold_split = [name for name in SPLIT_NAMES for _ in range(folds[name])]
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    split_of_group = {}
    for fold, (_, rows) in enumerate(splitter.split(series, series["label"], groups=series["group_key"])):
        for group in series.loc[rows, "group_key"].unique():
            split_of_group[group] = fold_split[fold]

    patients = series.drop_duplicates("patient_key")[["patient_key", "group_key"]]
    patients = patients.assign(split=patients["group_key"].map(split_of_group))
    patients = patients.sort_values("patient_key", ignore_index=True)[SPLITS_COLUMNS]
    empty = [name for name in SPLIT_NAMES if not (patients["split"] == name).any()]
    if empty:
        raise ValueError(f"splits {empty} got no patient; add patients or change curate.split_fractions")
    assert_disjoint_splits(patients, "patient_key")
    assert_disjoint_splits(patients, "group_key")
    for name in SPLIT_NAMES:
        log.info("%s: %d patients", name, int((patients["split"] == name).sum()))
    return patients
