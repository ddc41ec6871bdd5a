"""The longitudinal spine cohort (paper 002): scans joined to subjects, subject splits, summary.

A dataset reader keys each image by its own id: in SPIDER's layout an ``<id>`` is a scan, so the
cohort manifest has one "patient" per scan. The study needs the person: ``link_scans`` joins the
manifest to the cohort's scan table (scan id, subject, twin pair, zygosity, timepoint, years from
baseline, field strength; raw ids, kept under raw/) and keys subjects and twin pairs by salted
hashes, so no raw id reaches results/. Splits are then drawn by subject with twins kept together
(group = twin pair), 80/10/10 in the paper, stratified so the subjects with follow-up spread alike
(its 423 -> 339:42:42).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from mrissl.splits import SPLIT_NAMES, assert_disjoint_splits, split_patients
from mrissl.longitudinal.vertebrae import IVD_LEVELS
from mrissl.manifest import read_checked_table, salted_key
from mrissl.readers.rows import patient_key
from mrissl.readers.spider import SPIDER_IVD_LEVELS
from mrissl.vocabulary import RAW_SCAN_COLUMNS

SCAN_TABLE_COLUMNS = ["scan_key", "subject_key", "group_key", "zygosity", "timepoint", "years_from_baseline",
                      "field_strength_t", "series_key", "nifti_path", "mask_path"]
GRADING_COLUMNS = ["scan_key", "level", "ivd_label", "pfirrmann_grade", "modic", "up_endplate", "low_endplate",
                   "spondylolisthesis", "disc_herniation", "disc_narrowing", "disc_bulging"]
FOLLOW_UP, BASELINE_ONLY = "follow-up", "baseline only"
GRADES = (1, 2, 3, 4)

log = logging.getLogger(__name__)


def read_raw_scans(path: Path | str) -> pd.DataFrame:
    """The cohort's scan table (raw ids), checked for its columns."""
    return read_checked_table(path, RAW_SCAN_COLUMNS, "the scan table", f"it needs {RAW_SCAN_COLUMNS}",
                              dtype={"scan": str, "subject": str, "twin_pair": str, "zygosity": str},
                              keep_default_na=False)


def link_scans(manifest: pd.DataFrame, raw_scans: pd.DataFrame, salt: str, source: str = "spider") -> pd.DataFrame:
    """One row per usable scan (SCAN_TABLE_COLUMNS): the manifest's series keyed by subject and twin pair.

    ``manifest`` is the cohort's (one patient key per scan id, as the reader hashes it); scans the
    reader quarantined are left out with a warning. A manifest scan missing from ``raw_scans`` is
    an error: without its subject it could land in a split apart from its other scans.
    """
    table = raw_scans.copy()
    table["scan_key"] = [patient_key(salt, source, scan) for scan in table["scan"]]
    series = manifest.loc[manifest["mask_path"].notna(), ["patient_key", "series_key", "nifti_path", "mask_path"]]
    unknown = sorted(set(series["patient_key"]) - set(table["scan_key"]))
    if unknown:
        raise ValueError(f"{len(unknown)} scans of the manifest (e.g. {unknown[:3]}) are not in the scan table; "
                         f"every scan needs its subject there")
    if series["patient_key"].duplicated().any():
        raise ValueError("a scan has several masked series in the manifest; the study takes one T2 per scan")
    linked = table.merge(series.rename(columns={"patient_key": "scan_key"}), on="scan_key", how="left")
    dropped = linked["nifti_path"].isna()
    if dropped.any():
        log.warning("%d scans of the scan table are not in the manifest (quarantined?); left out", int(dropped.sum()))
    linked = linked[~dropped].copy()
    linked["subject_key"] = [salted_key(salt, f"{source}:subject:{s}") for s in linked["subject"]]
    linked["group_key"] = [
        salted_key(salt, f"{source}:group:{pair}") if pair else subject
        for pair, subject in zip(linked["twin_pair"], linked["subject_key"])
    ]
    return linked.sort_values(["subject_key", "timepoint"], ignore_index=True)[SCAN_TABLE_COLUMNS]


def link_cohort(
    manifest: pd.DataFrame, raw_scans: pd.DataFrame, gradings: pd.DataFrame, salt: str, source: str = "spider"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The linked scan table (``link_scans``) and the gradings of its scans (``link_gradings``)."""
    scans = link_scans(manifest, raw_scans, salt, source)
    return scans, link_gradings(gradings, scans)


def link_gradings(gradings: pd.DataFrame, scans: pd.DataFrame) -> pd.DataFrame:
    """SPIDER gradings (``read_spider_gradings``, known levels only) of the linked scans, with their level names."""
    linked = gradings.rename(columns={"patient_key": "scan_key"})
    linked = linked[linked["scan_key"].isin(set(scans["scan_key"]))].copy()
    linked["level"] = linked["ivd_label"].map(SPIDER_IVD_LEVELS)
    return linked.sort_values(["scan_key", "ivd_label"], ignore_index=True)[GRADING_COLUMNS]


def read_scan_table(path: Path | str) -> pd.DataFrame:
    """Read a table written from ``link_scans`` (keys stay strings)."""
    return read_checked_table(
        path, SCAN_TABLE_COLUMNS, "the longitudinal scan table", "re-run longitudinal_scans",
        dtype={c: str for c in ("scan_key", "subject_key", "group_key", "series_key")},
        keep_default_na=False, na_values={"field_strength_t": [""], "years_from_baseline": [""]},
    )


def read_gradings(path: Path | str) -> pd.DataFrame:
    """Read gradings written from ``link_gradings``."""
    return pd.read_csv(path, sep="\t", dtype={"scan_key": str})


def split_subjects(scans: pd.DataFrame, fractions: Mapping[str, float], seed: int) -> pd.DataFrame:
    """Subject-level splits (patient_key = subject key, group_key = twin pair, split).

    ``split_patients`` does the drawing; each scan is a "series" stratified by whether its subject
    has follow-ups. Raises ``ValueError`` if a subject or twin pair would fall in two splits.
    """
    n_scans = scans.groupby("subject_key")["scan_key"].transform("size")
    series = pd.DataFrame({
        "patient_key": scans["subject_key"], "group_key": scans["group_key"], "series_key": scans["scan_key"],
        "label": np.where(n_scans > 1, FOLLOW_UP, BASELINE_ONLY),
    })
    splits = split_patients(series, fractions, seed)
    per_scan = scans.merge(splits.rename(columns={"patient_key": "subject_key"}), on=["subject_key", "group_key"])
    if len(per_scan) != len(scans):
        raise RuntimeError("some scans got no split")
    assert_disjoint_splits(per_scan, "subject_key")
    assert_disjoint_splits(per_scan, "group_key")
    return splits


def cohort_table(scans: pd.DataFrame, splits: pd.DataFrame, gradings: pd.DataFrame) -> pd.DataFrame:
    """The cohort per split and in all: subjects, scans, follow-ups, twin pairs, fields, disc grades.

    One row per quantity, one column per split plus ``all``; a level's row gives its discs' grade
    counts as ``n1/n2/n3/n4`` over all graded scans (baseline and follow-up).
    """
    per_scan = scans.merge(splits.rename(columns={"patient_key": "subject_key"})[["subject_key", "split"]],
                           on="subject_key")
    graded = gradings.merge(per_scan[["scan_key", "split"]], on="scan_key")
    columns = {name: (per_scan[per_scan["split"] == name], graded[graded["split"] == name]) for name in SPLIT_NAMES}
    columns["all"] = (per_scan, graded)
    rows: dict[str, list] = {}
    for scans_in, grades_in in columns.values():
        visits = scans_in.groupby("subject_key")["scan_key"].size()
        pairs = scans_in[scans_in["zygosity"] != ""].groupby("zygosity")["group_key"].nunique()
        progressed = _worsened_discs(scans_in, grades_in)
        values = {
            "subjects": int(len(visits)),
            "scans": int(len(scans_in)),
            "subjects with follow-up": int((visits > 1).sum()),
            "subjects with two follow-ups": int((visits > 2).sum()),
            "twin pairs, monozygotic": int(pairs.get("MZ", 0)),
            "twin pairs, dizygotic": int(pairs.get("DZ", 0)),
            "years to follow-up, mean": _mean_years(scans_in),
            "scans at 1.5 T": int((scans_in["field_strength_t"] == 1.5).sum()),
            "scans at 3 T": int((scans_in["field_strength_t"] == 3.0).sum()),
            "graded scans": int(grades_in["scan_key"].nunique()),
            "discs worse at follow-up": progressed,
        }
        for level in IVD_LEVELS:
            at_level = grades_in.loc[grades_in["level"] == level, "pfirrmann_grade"]
            if level in set(gradings["level"]):
                counts = at_level.value_counts()
                values[f"{level} grades 1/2/3/4"] = "/".join(str(int(counts.get(g, 0))) for g in GRADES)
        for name, value in values.items():
            rows.setdefault(name, []).append(value)
    table = pd.DataFrame({"quantity": list(rows)})
    for n, name in enumerate(columns):
        table[name] = [rows[q][n] for q in rows]
    return table


def _mean_years(scans: pd.DataFrame) -> str:
    follow_ups = scans.loc[scans["timepoint"] > 0, "years_from_baseline"]
    return f"{follow_ups.mean():.1f}" if len(follow_ups) else ""


def _worsened_discs(scans: pd.DataFrame, gradings: pd.DataFrame) -> int:
    """Graded discs whose grade at a subject's last scan exceeds that at the baseline."""
    graded = gradings.merge(scans[["scan_key", "subject_key", "timepoint"]], on="scan_key")
    if graded.empty:
        return 0
    by_disc = graded.groupby(["subject_key", "level"])["timepoint"]
    first = graded.loc[by_disc.idxmin()].set_index(["subject_key", "level"])["pfirrmann_grade"]
    last = graded.loc[by_disc.idxmax()].set_index(["subject_key", "level"])["pfirrmann_grade"]
    return int((last > first).sum())
