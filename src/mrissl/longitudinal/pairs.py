"""VB pairs of the Siamese network (paper 002, section 2.2, Fig. 3).

A positive pair is one VB level of one subject at two time points; a negative pair is the same level
in two different subjects. A twin is a different person: a pair of twins is negative (its
``relation`` says "MZ twin" or "DZ twin", for the twin analysis beyond the paper). Pairs never
join two levels or two splits.

Training pairs are redrawn every epoch from (seed, epoch): every positive pair of the split (or a
random ``max_positives`` of them), and as many negatives, each made from one VB of a positive pair
and a VB of another subject at the same level. As in the paper, only subjects with follow-up scans
are used for training (so the grading test set, which has none, is never seen by the Siamese
network). Evaluation pairs are all positive and all negative pairs of a split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

VB_TABLE_COLUMNS = ["row", "scan_key", "subject_key", "group_key", "zygosity", "timepoint", "level_index", "split"]
PAIR_COLUMNS = ["a", "b", "same", "level_index", "relation"]
RELATIONS = ("same subject", "MZ twin", "DZ twin", "unrelated")


def vb_table(index: pd.DataFrame, scans: pd.DataFrame, splits: pd.DataFrame) -> pd.DataFrame:
    """The VB rows of a vertebrae ``index`` with each subject's twin zygosity and split (VB_TABLE_COLUMNS).

    ``scans``: the linked scan table (subject_key, zygosity); ``splits``: patient_key (the subject),
    split. A VB whose subject has no split is an error (it could leak).
    """
    vbs = index[index["kind"] == "VB"]
    zygosity = scans.drop_duplicates("subject_key").set_index("subject_key")["zygosity"]
    split_of = splits.set_index("patient_key")["split"]
    missing = sorted(set(vbs["subject_key"]) - set(split_of.index))
    if missing:
        raise ValueError(f"{len(missing)} subjects of the vertebrae index have no split (e.g. {missing[:3]})")
    table = vbs.assign(zygosity=vbs["subject_key"].map(zygosity).fillna(""), split=vbs["subject_key"].map(split_of))
    return table[VB_TABLE_COLUMNS].sort_values("row", ignore_index=True)


def relation(table: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Relation of the subjects of VB rows ``a`` and ``b`` (positions in ``table``): one of RELATIONS."""
    sa, sb = table["subject_key"].to_numpy()[a], table["subject_key"].to_numpy()[b]
    ga, gb = table["group_key"].to_numpy()[a], table["group_key"].to_numpy()[b]
    zygosity = table["zygosity"].to_numpy()[a]
    twins = (ga == gb) & (sa != sb)
    out = np.full(len(a), "unrelated", dtype=object)
    out[twins & (zygosity == "MZ")] = "MZ twin"
    out[twins & (zygosity == "DZ")] = "DZ twin"
    out[sa == sb] = "same subject"
    return out


def _pairs_frame(table: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> pd.DataFrame:
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    rel = relation(table, a, b)
    return pd.DataFrame({
        "a": table["row"].to_numpy()[a], "b": table["row"].to_numpy()[b], "same": (rel == "same subject").astype(int),
        "level_index": table["level_index"].to_numpy()[a], "relation": rel,
    }, columns=PAIR_COLUMNS)


def _in_split(table: pd.DataFrame, split: str, followup_only: bool) -> pd.DataFrame:
    part = table[table["split"] == split]
    if followup_only:
        n_scans = part.groupby("subject_key")["scan_key"].transform("nunique")
        part = part[n_scans > 1]
    return part


def _same_level_pairs(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in ``part``'s parent table, i.e. its index) of every unordered pair of VBs of two
    different scans at the same level."""
    a_all, b_all = [], []
    for _, at_level in part.groupby("level_index"):
        positions = at_level.index.to_numpy()
        scans = at_level["scan_key"].to_numpy()
        i, j = np.triu_indices(len(positions), k=1)
        keep = scans[i] != scans[j]
        a_all.append(positions[i[keep]])
        b_all.append(positions[j[keep]])
    if not a_all:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(a_all), np.concatenate(b_all)


def evaluation_pairs(table: pd.DataFrame, split: str) -> pd.DataFrame:
    """All pairs of VBs of ``split`` at the same level from two different scans (PAIR_COLUMNS):
    positives (one subject, two time points) and negatives (two subjects, twins included)."""
    table = table.reset_index(drop=True)
    a, b = _same_level_pairs(table[table["split"] == split])
    return _pairs_frame(table, a, b)


def positive_pairs(table: pd.DataFrame, split: str) -> pd.DataFrame:
    """Every positive pair of ``split`` (one subject's VB at one level, two time points)."""
    pairs = evaluation_pairs(table, split)
    return pairs[pairs["same"] == 1].reset_index(drop=True)


def sample_epoch_pairs(table: pd.DataFrame, split: str, seed: int, epoch: int, *, max_positives: int | None = None,
                       followup_only: bool = True) -> pd.DataFrame:
    """Balanced pairs of ``split`` for one epoch (PAIR_COLUMNS), shuffled; drawn from (seed, epoch).

    Every positive pair (or ``max_positives`` of them at random) and as many negatives: for each
    positive, one of its two VBs (at random) with a VB of another subject at the same level.
    """
    table = table.reset_index(drop=True)
    part = _in_split(table, split, followup_only)
    a, b = _same_level_pairs(part)
    subject = table["subject_key"].to_numpy()
    positive = subject[a] == subject[b]
    pos_a, pos_b = a[positive], b[positive]
    rng = np.random.default_rng([seed, epoch])
    if max_positives is not None and len(pos_a) > max_positives:
        keep = np.sort(rng.choice(len(pos_a), size=max_positives, replace=False))
        pos_a, pos_b = pos_a[keep], pos_b[keep]
    if not len(pos_a):
        raise ValueError(f"split {split!r} has no positive VB pair (no subject with a follow-up scan)")
    anchors = np.where(rng.random(len(pos_a)) < 0.5, pos_a, pos_b)
    by_level = {level: rows.index.to_numpy() for level, rows in part.groupby("level_index")}
    level = table["level_index"].to_numpy()
    partners = np.empty(len(anchors), dtype=np.int64)
    for n, anchor in enumerate(anchors):
        candidates = by_level[level[anchor]]
        candidates = candidates[subject[candidates] != subject[anchor]]
        if not len(candidates):
            raise ValueError(f"split {split!r} has one subject only at level {level[anchor]}: no negative pair")
        partners[n] = candidates[rng.integers(len(candidates))]
    pairs = pd.concat([_pairs_frame(table, pos_a, pos_b), _pairs_frame(table, anchors, partners)], ignore_index=True)
    return pairs.iloc[rng.permutation(len(pairs))].reset_index(drop=True)
