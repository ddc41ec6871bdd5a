"""The clip cohort as Snakemake builds it on the tiny config: products, patient-level splits, no raw ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from mrissl.splits import assert_disjoint_splits

pytestmark = pytest.mark.workflow

TINY = yaml.safe_load((REPO / "config/tiny.yaml").read_text())


def test_clip_cohort_products(tiny_run):
    clip = tiny_run / "results" / "clip"
    index = pd.read_csv(clip / "index.tsv", sep="\t")
    labels = pd.read_csv(tiny_run / "raw/phantom/pathology/labels.tsv", sep="\t")
    assert len(index) == len(labels)  # every study has its three series and a report
    volumes = np.load(clip / "volumes.npy", mmap_mode="r")
    assert volumes.shape == (len(index), 3, *TINY["clip"]["volume_shape"])

    splits = pd.read_csv(clip / "splits.tsv", sep="\t")
    assert_disjoint_splits(splits, "patient_key")
    for name in ("val", "test"):
        assert (splits["split"] == name).sum() == TINY["clip"]["split"][name]
    assert set(splits["study_key"]) <= set(index["study_key"])

    qc = pd.read_csv(tiny_run / "results/tables/clip_registration_qc.csv")
    assert list(qc["sequence"]) == ["T2star", "DWI"]
    assert (qc["error_after_mm"] < qc["error_before_mm"]).all()
    for product in ("tables/clip_registration_qc.csv", "figures/clip_registration_overlay.png",
                    "figures/clip_voxel_sizes.png", "figures/clip_report_lengths.png"):
        assert (tiny_run / "results" / product).is_file()
        assert (tiny_run / "results" / "lineage" / f"{product}.json").is_file()


def test_no_raw_subject_id_reaches_results(tiny_run):
    subjects = pd.read_csv(tiny_run / "raw/phantom/pathology/labels.tsv", sep="\t")["subject"].unique()
    for folder in ("results/clip", "results/cohorts/pathology", "results/tables", "results/lineage"):
        for path in (tiny_run / folder).rglob("*"):
            if path.suffix in (".tsv", ".csv", ".md", ".tex", ".json"):
                text = path.read_text()
                assert not any(subject in text for subject in subjects), path
