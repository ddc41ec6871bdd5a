"""Longitudinal curation: scans keyed by subject and twin pair, subject splits with twins together, summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrissl.longitudinal.curation import (
    SCAN_TABLE_COLUMNS,
    cohort_table,
    link_cohort,
    link_scans,
    split_subjects,
)
from mrissl.splits import assert_disjoint_splits
from mrissl.manifest import MANIFEST_COLUMNS
from mrissl.readers.rows import patient_key
from mrissl.longitudinal.figures import montage_subject

SALT = "s"


def raw_scan_table(n_singletons: int, n_pairs: int, followed_every: int = 2) -> pd.DataFrame:
    """Scan rows like the phantom's scans.tsv: twin pairs first, every ``followed_every``-th subject followed up."""
    rows, scan = [], 0
    for n in range(n_singletons + 2 * n_pairs):
        pair = f"TP{n // 2:03d}" if n < 2 * n_pairs else ""
        zygosity = ("MZ" if (n // 2) % 2 == 0 else "DZ") if pair else ""
        for timepoint in range(2 if n % followed_every == 0 else 1):
            scan += 1
            rows.append({"scan": str(scan), "subject": f"SP{n:05d}", "twin_pair": pair, "zygosity": zygosity,
                         "timepoint": timepoint, "years_from_baseline": 10.0 * timepoint,
                         "field_strength_t": 1.5 if timepoint == 0 else 3.0})
    return pd.DataFrame(rows)


def manifest_for(raw: pd.DataFrame) -> pd.DataFrame:
    """The cohort manifest the SPIDER reader would write: one patient key per scan id."""
    rows = [{"patient_key": patient_key(SALT, "spider", scan), "series_key": f"series{scan}", "label": "T2",
             "nifti_path": f"nifti/{scan}.nii.gz", "mask_path": f"nifti/{scan}_mask.nii.gz"} for scan in raw["scan"]]
    return pd.DataFrame(rows).reindex(columns=MANIFEST_COLUMNS)


def test_link_keys_scans_by_subject_and_twin_pair_without_raw_ids():
    raw = raw_scan_table(4, 3)
    scans = link_scans(manifest_for(raw), raw, SALT)
    assert list(scans.columns) == SCAN_TABLE_COLUMNS and len(scans) == len(raw)
    assert scans["subject_key"].nunique() == 10
    # Twins share a group; a singleton is its own group; one subject's scans share both keys.
    groups = scans.drop_duplicates("subject_key").groupby("group_key")["subject_key"].nunique()
    assert sorted(groups.value_counts().to_dict().items()) == [(1, 4), (2, 3)]
    singles = scans[scans["zygosity"] == ""]
    assert (singles["group_key"] == singles["subject_key"]).all()
    text = scans.to_csv(sep="\t")
    assert "SP0" not in text and "TP0" not in text


def test_link_drops_quarantined_scans_and_refuses_unknown_ones(caplog):
    raw = raw_scan_table(3, 1)
    manifest = manifest_for(raw)
    scans = link_scans(manifest.iloc[1:], raw, SALT)
    assert len(scans) == len(raw) - 1 and "not in the manifest" in caplog.text
    with pytest.raises(ValueError, match="not in the scan table"):
        link_scans(manifest, raw.iloc[1:], SALT)


def test_gradings_get_levels_and_keep_only_linked_scans():
    raw = raw_scan_table(2, 0)
    keys = [patient_key(SALT, "spider", scan) for scan in raw["scan"]]
    gradings = pd.DataFrame({"patient_key": [keys[0], keys[0], "elsewhere"], "ivd_label": [1, 5, 1],
                             "pfirrmann_grade": [3, 1, 2], "modic": 0, "up_endplate": 0, "low_endplate": 0,
                             "spondylolisthesis": 0, "disc_herniation": 0, "disc_narrowing": 0, "disc_bulging": 0})
    _, linked = link_cohort(manifest_for(raw), raw, gradings, SALT)
    assert list(linked["level"]) == ["L5-S1", "L1-L2"] and set(linked["scan_key"]) == {keys[0]}


def test_splits_keep_subjects_and_twin_pairs_whole():
    raw = raw_scan_table(40, 20)
    scans = link_scans(manifest_for(raw), raw, SALT)
    splits = split_subjects(scans, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    assert len(splits) == 80 and set(splits["split"]) == {"train", "val", "test"}
    per_scan = scans.merge(splits.rename(columns={"patient_key": "subject_key"}), on=["subject_key", "group_key"])
    assert len(per_scan) == len(scans)
    assert per_scan.groupby("subject_key")["split"].nunique().max() == 1
    assert per_scan.groupby("group_key")["split"].nunique().max() == 1
    counts = splits["split"].value_counts()
    assert 56 <= counts["train"] <= 72 and counts["val"] >= 4 and counts["test"] >= 4
    followed = per_scan.groupby("subject_key").agg(split=("split", "first"), scans=("scan_key", "size"))
    assert (followed[followed["scans"] > 1]["split"].value_counts() > 0).all()  # follow-ups in every split
    assert splits.equals(split_subjects(scans.sample(frac=1.0, random_state=0), {"train": 0.8, "val": 0.1,
                                                                                   "test": 0.1}, seed=3))


def test_split_fails_when_a_subject_straddles_twin_groups():
    raw = raw_scan_table(20, 5)
    scans = link_scans(manifest_for(raw), raw, SALT)
    broken = scans.copy()
    followed = broken.index[broken["timepoint"] == 1][0]
    broken.loc[followed, "group_key"] = "another-group"  # a subject's follow-up in another group
    with pytest.raises(ValueError, match="group_key"):
        split_subjects(broken, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=0)
    leaking = pd.DataFrame({"subject_key": ["a", "a"], "split": ["train", "test"]})
    with pytest.raises(ValueError, match="more than one split"):
        assert_disjoint_splits(leaking, "subject_key")


def test_cohort_table_counts():
    raw = raw_scan_table(6, 2)  # 10 subjects, 5 followed, 2 twin pairs (1 MZ, 1 DZ)
    scans = link_scans(manifest_for(raw), raw, SALT)
    splits = scans.drop_duplicates("subject_key")[["subject_key", "group_key"]]
    splits = splits.rename(columns={"subject_key": "patient_key"})
    splits["split"] = "train"
    follow_up = scans[scans["timepoint"] == 1].iloc[[0]]
    baseline = scans[(scans["subject_key"] == follow_up["subject_key"].iloc[0]) & (scans["timepoint"] == 0)].iloc[0]
    gradings = pd.DataFrame({
        "scan_key": [baseline["scan_key"], follow_up["scan_key"].iloc[0], baseline["scan_key"]],
        "level": ["L4-L5", "L4-L5", "L5-S1"], "pfirrmann_grade": [2, 3, 4],
    })
    table = cohort_table(scans, splits, gradings).set_index("quantity")
    assert list(table.columns) == ["train", "val", "test", "all"]
    column = table["all"]
    assert column["subjects"] == 10 and column["scans"] == 15 and column["subjects with follow-up"] == 5
    assert column["twin pairs, monozygotic"] == 1 and column["twin pairs, dizygotic"] == 1
    assert column["scans at 1.5 T"] == 10 and column["scans at 3 T"] == 5
    assert column["L4-L5 grades 1/2/3/4"] == "0/1/1/0" and column["L5-S1 grades 1/2/3/4"] == "0/0/0/1"
    assert column["discs worse at follow-up"] == 1 and column["graded scans"] == 2
    assert table.loc["subjects", "val"] == 0


def test_montage_shows_the_subject_whose_discs_changed_most():
    index = pd.DataFrame({
        "kind": ["IVD"] * 4 + ["VB"] * 2, "scan_key": ["a0", "a1", "b0", "b1", "a0", "b1"],
        "subject_key": ["A", "A", "B", "B", "A", "B"], "timepoint": [0, 1, 0, 1, 0, 1],
        "level": ["L4-L5"] * 4 + ["L4", "L4"], "grade": pd.array([1, 1, 1, 3, None, None], dtype="Int64"),
    })
    assert montage_subject(index) == ("B", "b0", "b1")
    with pytest.raises(ValueError, match="follow-up"):
        montage_subject(index[index["timepoint"] == 0])


@pytest.mark.workflow
def test_tiny_run_builds_the_longitudinal_products(tiny_run):
    scans = pd.read_csv(tiny_run / "results/longitudinal/scans.tsv", sep="\t", keep_default_na=False)
    splits = pd.read_csv(tiny_run / "results/longitudinal/splits.tsv", sep="\t")
    per_scan = scans.merge(splits.rename(columns={"patient_key": "subject_key"}), on=["subject_key", "group_key"])
    assert len(per_scan) == len(scans)
    assert per_scan.groupby("subject_key")["split"].nunique().max() == 1
    assert per_scan.groupby("group_key")["split"].nunique().max() == 1
    index = pd.read_csv(tiny_run / "results/longitudinal/vertebrae/index.tsv", sep="\t")
    vb = np.load(tiny_run / "results/longitudinal/vertebrae/vb.npy", mmap_mode="r")
    assert vb.shape[0] == (index["kind"] == "VB").sum() == 7 * len(scans)
    assert (tiny_run / "results/tables/longitudinal_cohort.md").stat().st_size > 0
    assert (tiny_run / "results/figures/longitudinal_montage.png").stat().st_size > 10_000
    raw = pd.read_csv(tiny_run / "raw/phantom/spine/scans.tsv", sep="\t", keep_default_na=False)
    raw_ids = {s.encode() for s in (*raw["subject"], *raw["twin_pair"]) if s}
    for path in (tiny_run / "results/longitudinal").rglob("*.tsv"):
        data = path.read_bytes()
        assert not any(raw_id in data for raw_id in raw_ids), f"{path} holds a raw subject id"
