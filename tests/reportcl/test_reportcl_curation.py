"""reportcl curation: volumes to arrays with their labels, patient-level folds, the cohort table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrissl.reportcl.curation import (
    cohort_table,
    key_subjects,
    patient_folds,
    preprocess_tumour_cohort,
)
from mrissl.phantoms.tumour import TumourCohortConfig, generate_tumour_cohort
from mrissl.readers import read_dataset
from mrissl.vocabulary import MARKERS

SALT = "test-salt"


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    root = tmp_path_factory.mktemp("tumour")
    config = TumourCohortConfig.from_config(dict(
        n_patients=6, first_subject=101, matrix=[40, 40, 26], years=[2018, 2023],
        manufacturers=["Philips Medical Systems"], field_strengths_t=[3.0], slice_thickness_mm=[2.0, 4.0],
        noise=[0.02, 0.04], bias_field=0.2, marker_weights={"braf_fusion": 1, "braf_v600e": 1, "other": 1},
        reports=False,
    ))
    clinical = generate_tumour_cohort(config, 5, "tumour_external", root / "data", root / "clinical.tsv",
                                      root / "reports.tsv")
    manifest, _ = read_dataset("brats2023", root / "data", SALT, root / "nifti")
    index = preprocess_tumour_cohort(manifest, clinical, SALT, "brats2023", (24, 24, 16), root / "images.npy",
                                     root / "masks.npy")
    return clinical, index, np.load(root / "images.npy", mmap_mode="r"), np.load(root / "masks.npy", mmap_mode="r")


def test_preprocessed_arrays_and_index(curated):
    clinical, index, images, masks = curated
    assert images.shape == masks.shape == (6, 24, 24, 16)
    assert images.dtype == np.float16 and masks.dtype == np.uint8
    assert list(index["row"]) == list(range(6)) and index["patient_key"].is_unique
    assert not index.astype(str).apply(lambda c: c.str.contains("BraTS")).any().any()  # no raw subject ids
    # Each row carries its patient's marker and location.
    keyed = key_subjects(clinical, SALT, "brats2023").set_index("patient_key")
    for row in index.itertuples():
        assert (row.marker, row.location) == tuple(keyed.loc[row.patient_key, ["marker", "location"]])
    for image, mask in zip(images, masks):
        brain = np.asarray(image, np.float32)[np.asarray(image) != 0]
        assert abs(brain.mean()) < 0.3 and 0.3 < brain.std() < 1.2  # z-scored over the brain, then smoothed
        assert set(np.unique(mask)) <= {0, 2, 3, 4} and (mask > 0).sum() > 0
        assert np.all(np.asarray(image)[mask > 0] != 0)  # masks stay inside the brain


def test_preprocess_rejects_unknown_labels(curated, tmp_path):
    clinical = curated[0].assign(marker="IDH1")
    with pytest.raises(ValueError, match="unknown marker"):
        preprocess_tumour_cohort(pd.DataFrame(), clinical, SALT, "brats2023", (8, 8, 8), tmp_path / "i.npy",
                                 tmp_path / "m.npy")


def synthetic_index(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keys = [f"p{i:03d}" for i in range(n)]
    groups = [f"family{i // 2:03d}" if i < 10 else key for i, key in enumerate(keys)]  # five sibling pairs
    return pd.DataFrame({
        "row": range(n), "patient_key": keys, "study_key": keys, "series_key": keys, "group_key": groups,
        "location": rng.choice(["supratentorial", "infratentorial", "transtentorial"], n),
        "marker": rng.choice(MARKERS, n, p=[0.4, 0.2, 0.4]),
    })


def test_folds_are_patient_and_family_disjoint_stratified_and_deterministic():
    index = synthetic_index(100)
    folds = patient_folds(index, 5, seed=3)
    assert len(folds) == 100 and set(folds["fold"]) == set(range(5))
    assert folds.groupby("group_key")["fold"].nunique().max() == 1  # siblings share a fold
    sizes = folds["fold"].value_counts()
    assert sizes.max() - sizes.min() <= 4
    v600e = folds[folds["marker"] == "braf_v600e"]["fold"].value_counts()
    assert v600e.max() - v600e.min() <= 2  # stratified by marker
    shuffled = patient_folds(index.sample(frac=1.0, random_state=1), 5, seed=3)
    assert shuffled.equals(folds)
    assert not patient_folds(index, 5, seed=4)["fold"].equals(folds["fold"])


def test_folds_fail_when_a_patient_would_be_tested_twice():
    index = synthetic_index(40)
    # Every patient has a second series filed under another group: the groups split the patient.
    second = index.assign(group_key=index["group_key"] + "-other", row=index["row"] + 40)
    with pytest.raises(ValueError, match="more than one split"):
        patient_folds(pd.concat([index, second], ignore_index=True), 5, seed=0)
    with pytest.raises(ValueError, match="fewer than the 5 folds"):
        patient_folds(synthetic_index(8), 5, seed=0)


def test_cohort_table_counts_markers_by_location():
    index = synthetic_index(60)
    table = cohort_table({"Dataset 1": index, "Dataset 2": index.iloc[:20]})
    assert list(table.columns) == ["Dataset", "Location", "BRAF Fusion", "BRAF Mutation", "Other", "Total"]
    first = table[table["Dataset"] == "Dataset 1"].set_index("Location")
    assert first.loc["All", "Total"] == 60
    assert first.loc["All", "BRAF Mutation"] == (index["marker"] == "braf_v600e").sum()
    assert first.drop(index="All")["Total"].sum() == 60
    supra_fusion = ((index["location"] == "supratentorial") & (index["marker"] == "braf_fusion")).sum()
    assert first.loc["Supratentorial", "BRAF Fusion"] == supra_fusion
    assert table[table["Dataset"] == "Dataset 2"].set_index("Location").loc["All", "Total"] == 20


@pytest.mark.workflow
def test_tiny_run_builds_the_tumour_products(tiny_run):
    folds = pd.read_csv(tiny_run / "results/reportcl/folds.tsv", sep="\t")
    assert folds.groupby("patient_key")["fold"].nunique().max() == 1 and folds["fold"].nunique() == 5
    index = pd.read_csv(tiny_run / "results/reportcl/tumour_internal/index.tsv", sep="\t")
    assert set(folds["patient_key"]) == set(index["patient_key"])
    reports = pd.read_csv(tiny_run / "results/reportcl/reports/reports.tsv", sep="\t")
    token_ids = np.load(tiny_run / "results/reportcl/reports/token_ids.npy")
    assert len(reports) == len(index) == token_ids.shape[0]
    assert not reports["text"].str.contains(r"\d\d|\bBRAF|V600E|\bfusion", case=False).any()
    table = pd.read_csv(tiny_run / "results/tables/reportcl_cohort.csv")
    assert set(table["Dataset"]) == {"Dataset 1 (internal)", "Dataset 2 (external)"}
    for figure in ("reportcl_montage", "reportcl_report_lengths"):
        assert (tiny_run / f"results/figures/{figure}.png").stat().st_size > 10_000
    raw_ids = [p.name.encode() for p in (tiny_run / "raw/phantom/tumour_internal/data").iterdir()]
    for path in (tiny_run / "results/reportcl").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(raw in data for raw in raw_ids), f"{path} holds a raw subject id"
