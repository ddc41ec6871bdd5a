"""Curation of the brain-pathology cohort for study ``clip`` (paper 003): studies, volumes, splits.

``curate_clip_cohort`` joins the cohort manifest (one row per series, salted keys) with the side
tables of the dataset (reports, report-derived labels, and for the phantom the true motion), all
keyed by BIDS subject and session, turns those into the same salted keys the reader gave the
series, scrubs the reports of names, dates and record numbers (:func:`mrissl.deid.scrub_report`:
the index under results/ holds them), registers each study's T2* and DWI to its FLAIR and writes
one memory-mapped array of stacked volumes with an index table. ``balanced_split`` then draws the paper's train / validation /
test sets by patient, balanced over the report-derived classes (paper 003, Table 1).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from mrissl.clip import CHANNEL_LABELS, CHANNELS, MOVING
from mrissl.clip.registration import (
    OutputGrid,
    RegistrationSettings,
    register_studies,
)
from mrissl.deid import scrub_report
from mrissl.splits import SPLIT_NAMES, assert_disjoint_splits
from mrissl.manifest import salted_key
from mrissl.readers.rows import patient_key

log = logging.getLogger(__name__)

INDEX_COLUMNS = ["row", "patient_key", "study_key", "report_class", "true_class", "report",
                 *(f"series_key_{c}" for c in CHANNELS)]
CLIP_SPLITS_COLUMNS = ["patient_key", "group_key", "study_key", "report_class", "split"]


def study_keys(table: pd.DataFrame, salt: str, source: str) -> pd.DataFrame:
    """``table`` (BIDS ``subject``, ``session`` columns) with the reader's ``patient_key`` and ``study_key``."""
    subjects = table["subject"].astype(str).str.removeprefix("sub-")
    sessions = table["session"].astype(str).str.removeprefix("ses-")
    return table.assign(
        patient_key=[patient_key(salt, source, s) for s in subjects],
        study_key=[salted_key(salt, f"{source}:{s}:{t}") for s, t in zip(subjects, sessions)],
    ).drop(columns=["subject", "session"])


def study_table(manifest: pd.DataFrame, reports: pd.DataFrame, labels: pd.DataFrame, salt: str,
                source: str) -> pd.DataFrame:
    """One row per study that has all three sequences and a report, sorted by ``study_key``.

    Columns: ``patient_key``, ``study_key``, ``path_<channel>`` and ``series_key_<channel>`` for
    each channel, ``report``, ``report_class`` and ``true_class`` (empty where unknown).
    """
    wanted = manifest[manifest["label"].isin(CHANNEL_LABELS.values())].sort_values("series_key")
    by_label = {label: channel for channel, label in CHANNEL_LABELS.items()}
    counts = wanted.groupby(["study_key", "label"]).size().unstack(fill_value=0).reindex(
        columns=list(by_label), fill_value=0)
    duplicated = counts.index[(counts > 1).any(axis=1)]
    if len(duplicated):
        log.warning("%d studies have more than one series of a sequence; the first by series key is used",
                    len(duplicated))
    complete = counts.index[(counts > 0).all(axis=1)]
    if len(complete) < len(counts):
        log.warning("%d studies lack DWI, T2* or FLAIR and are left out", len(counts) - len(complete))
    first = wanted[wanted["study_key"].isin(complete)].drop_duplicates(["study_key", "label"])
    first = first.assign(channel=first["label"].map(by_label))
    studies = first.pivot(index="study_key", columns="channel", values=["nifti_path", "series_key"])
    studies.columns = [f"{'path' if v == 'nifti_path' else 'series_key'}_{c}" for v, c in studies.columns]
    studies = studies.join(first.drop_duplicates("study_key").set_index("study_key")["patient_key"])
    text = study_keys(reports, salt, source)[["study_key", "report"]].set_index("study_key")
    text["report"] = text["report"].astype(str).map(scrub_report)
    classes = study_keys(labels, salt, source).set_index("study_key")
    classes = classes.reindex(columns=["report_class", "true_class"])
    studies = studies.join(text, how="inner").join(classes, how="left").reset_index()
    missing = len(complete) - len(studies)
    if missing:
        log.warning("%d studies have no report and are left out", missing)
    if studies.empty:
        raise ValueError("no study has DWI (TraceW), T2* (GRE) and FLAIR series and a report; check the "
                         "cohort manifest and reports.tsv")
    return studies.sort_values("study_key", ignore_index=True)


def motion_truth(motion: pd.DataFrame, salt: str, source: str) -> dict[tuple[str, str], np.ndarray]:
    """(study_key, sequence) -> 4x4 true map of FLAIR scanner LPS mm to that sequence's (phantom ``motion.tsv``)."""
    keyed = study_keys(motion, salt, source)
    truth = {}
    for row in keyed.itertuples():
        matrix = np.eye(4)
        matrix[:3] = np.array([float(v) for v in str(row.transform_lps).split(",")]).reshape(3, 4)
        truth[(row.study_key, row.sequence)] = matrix
    return truth


def curate_clip_cohort(
    manifest: pd.DataFrame, reports: pd.DataFrame, labels: pd.DataFrame, motion: pd.DataFrame | None, *,
    salt: str, source: str, grid: OutputGrid, settings: RegistrationSettings, array_path: Path,
    workers: int = 1, preview_studies: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """Register and stack every complete study; returns (index, registration QC, preview volumes).

    The volumes go to ``array_path`` (n, 3, *grid.shape) in index order (channels ``CHANNELS``).
    """
    studies = study_table(manifest, reports, labels, salt, source)
    truth = motion_truth(motion, salt, source) if motion is not None else None
    log.info("%d studies with DWI, T2* and FLAIR and a report", len(studies))
    qc, preview = register_studies(studies, grid, settings, array_path, truth,
                                   workers=workers, preview_studies=preview_studies)
    index = studies.assign(row=np.arange(len(studies))).reindex(columns=INDEX_COLUMNS)
    for sequence in MOVING:
        rows = qc[qc["sequence"] == sequence]
        log.info("%s: NMI %.3f -> %.3f, error %.2f -> %.2f mm", sequence, rows["nmi_before"].mean(),
                 rows["nmi_after"].mean(), rows["error_before_mm"].mean(), rows["error_after_mm"].mean())
    return index, qc, preview


def registration_summary(qc: pd.DataFrame, voxel_mm: float) -> pd.DataFrame:
    """Per moving sequence: studies, NMI and residual error (mm) before and after, and the share under a voxel."""
    rows = []
    for sequence in MOVING:
        q = qc[qc["sequence"] == sequence]
        rows.append({
            "sequence": sequence, "studies": len(q),
            "nmi_before": q["nmi_before"].mean(), "nmi_after": q["nmi_after"].mean(),
            "error_before_mm": q["error_before_mm"].mean(), "error_after_mm": q["error_after_mm"].mean(),
            "error_after_p95_mm": q["error_after_mm"].quantile(0.95) if len(q) else np.nan,
            "under_one_voxel": (q["error_after_mm"] < voxel_mm).mean() if q["error_after_mm"].notna().any() else np.nan,
        })
    return pd.DataFrame(rows)


def balanced_split(index: pd.DataFrame, counts: Mapping[str, int | None], seed: int) -> pd.DataFrame:
    """Studies assigned to train / val / test by patient, val and test balanced over report classes.

    ``counts`` gives the number of studies per split (paper 003: 211 / 24 / 27); ``train: None``
    puts every patient left after val and test into train. Test, then val, then train are filled
    one patient at a time, always of the class the split holds fewest studies of (ties in a seeded
    class order; patients in a seeded order within their class), so each split holds the classes as
    evenly as the cohort allows; within a class, patients with fewer studies go first, so follow-up
    studies rarely unbalance val and test. A patient's studies always go together; a patient's class
    is that of most of its studies.
    Raises ``ValueError`` when a split stays empty or a patient would cross splits.
    """
    if set(counts) != set(SPLIT_NAMES):
        raise ValueError(f"clip.split must name {list(SPLIT_NAMES)}, got {sorted(counts)}")
    rng = np.random.default_rng(seed)
    studies = index.sort_values("study_key").assign(report_class=index["report_class"].fillna("unlabelled"))
    per_patient = studies.groupby("patient_key").agg(
        n=("study_key", "size"), cls=("report_class", lambda c: c.value_counts().sort_index(kind="stable").idxmax()))
    queues = {}
    for cls in sorted(per_patient["cls"].unique()):
        patients = per_patient.index[per_patient["cls"] == cls].sort_values()
        queues[cls] = list(patients[rng.permutation(len(patients))])
    split_of = {}
    for split in ("test", "val", "train"):
        target = counts[split]
        if target is None:
            for queue in queues.values():
                split_of.update({p: split for p in queue})
                queue.clear()
            continue
        order = [str(c) for c in rng.permutation(sorted(queues))]  # breaks ties between classes
        taken = dict.fromkeys(order, 0)
        while sum(taken.values()) < target:
            room = target - sum(taken.values())
            # Within a class, the first patient (seeded order) with the fewest studies that fit.
            fitting = {c: min((p for p in queues[c] if per_patient.loc[p, "n"] <= room),
                              key=lambda p: per_patient.loc[p, "n"], default=None) for c in order}
            ready = [c for c in order if fitting[c] is not None]
            if not ready:
                break
            cls = min(ready, key=lambda c: taken[c])  # the class this split has fewest studies of
            queues[cls].remove(fitting[cls])
            split_of[fitting[cls]] = split
            taken[cls] += int(per_patient.loc[fitting[cls], "n"])
        if sum(taken.values()) < target:
            log.warning("split %s: %d studies asked for, %d available", split, target, sum(taken.values()))
    splits = studies.assign(split=studies["patient_key"].map(split_of), group_key=studies["patient_key"])
    unused = splits["split"].isna()
    if unused.any():
        log.info("%d studies of %d patients are in no split (clip.split asks for fewer)",
                 int(unused.sum()), splits.loc[unused, "patient_key"].nunique())
    splits = splits[~unused]
    empty = [s for s in SPLIT_NAMES if not (splits["split"] == s).any()]
    if empty:
        raise ValueError(f"clip splits {empty} got no study; add subjects or lower clip.split counts")
    assert_disjoint_splits(splits, "patient_key")
    for split in SPLIT_NAMES:
        of_split = splits[splits["split"] == split]
        log.info("%s: %d studies, %s", split, len(of_split),
                 of_split["report_class"].value_counts().sort_index().to_dict())
    return splits.sort_values(["split", "study_key"], ignore_index=True)[CLIP_SPLITS_COLUMNS]
