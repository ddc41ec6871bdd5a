"""The reportcl study as Snakemake runs it on config/tiny.yaml: Tables 1-5, t-tests, Fig 3, loss curves."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO

pytestmark = pytest.mark.workflow

INITS = ["Randomly", "With MedicalNet-like (phantom segmentation)", "With proposed CL"]


def test_tables_one_to_four(tiny_run):
    for name, columns in (("table1", ["AUC", "Precision", "Recall", "F1-score"]),
                          ("table2", ["AUC", "Precision", "Recall", "F1-score"]),
                          ("table3", ["2D Dice Score", "3D Dice Score"]),
                          ("table4", ["2D Dice Score", "3D Dice Score"])):
        table = pd.read_csv(tiny_run / f"results/tables/reportcl_{name}.csv")
        assert table["Model Initialization"].tolist() == INITS
        assert list(table.columns[1:]) == columns
        for ext in ("md", "tex"):
            assert (tiny_run / f"results/tables/reportcl_{name}.{ext}").stat().st_size > 0
    md = (tiny_run / "results/tables/reportcl_table1.md").read_text()
    assert "warm-up" in md and "MedicalNet-like" in md


def test_per_fold_metrics_cover_every_fold_and_both_sets(tiny_run):
    n_folds = yaml.safe_load((REPO / "config/config.yaml").read_text())["reportcl"]["n_folds"]
    for init in ("random", "medicalnet", "proposed"):
        per_fold = pd.read_csv(tiny_run / f"results/reportcl/downstream/{init}/per_fold.tsv", sep="\t")
        assert sorted(per_fold["fold"].unique()) == list(range(n_folds))
        assert set(per_fold["dataset"]) == {"internal", "external"}
        assert per_fold[["dice_2d", "dice_3d"]].ge(0).all().all() and per_fold[["dice_2d", "dice_3d"]].le(1).all().all()
        predictions = pd.read_csv(tiny_run / f"results/reportcl/downstream/{init}/predictions.tsv", sep="\t")
        internal = predictions[predictions["dataset"] == "internal"]
        assert not internal["patient_key"].duplicated().any()             # each internal case tested once


def test_ttests_and_ablations(tiny_run):
    tests = pd.read_csv(tiny_run / "results/tables/reportcl_ttests.csv")
    assert set(tests["Dataset"]) == {"internal", "external"}
    assert set(tests["Metric"]) == {"AUC", "F1-score", "2D Dice Score", "3D Dice Score"}
    assert len(tests) == 2 * 2 * 4
    table5 = pd.read_csv(tiny_run / "results/tables/reportcl_table5.csv")
    assert table5["Experiment"].iloc[-1] == "Proposed method"
    assert "Hard negative sampling" in set(table5["Experiment"])
    assert "Tumor location-excluded" not in set(table5["Experiment"])   # tiny.yaml sets it to null


def test_figures_and_encoders(tiny_run):
    for name in ("fig3", "loss_curves"):
        assert (tiny_run / f"results/figures/reportcl_{name}.png").stat().st_size > 10_000
    encoder = torch.load(tiny_run / "results/reportcl/pretrain/proposed/encoder.pt", weights_only=True)
    init = torch.load(tiny_run / "results/reportcl/init/medicalnet.pt", weights_only=True)
    assert torch.equal(encoder["layer1.0.conv1.weight"], init["layer1.0.conv1.weight"])      # frozen
    assert not torch.equal(encoder["layer4.1.conv2.weight"], init["layer4.1.conv2.weight"])  # trained
    assert not (tiny_run / "results/checkpoints/reportcl/pretrain/proposed").exists()
