"""Training and evaluation of study clip as Snakemake runs them on the tiny config: every table and
figure with its lineage, the retrieval table's shape, metrics in range, and checkpoints outside outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO

pytestmark = pytest.mark.workflow

TINY = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
PRODUCTS = ["tables/clip_table1.csv", "tables/clip_retrieval.csv", "tables/clip_table2.csv", "tables/clip_table3.csv",
            "tables/clip_zeroshot.csv", "figures/clip_fig5.png", "figures/clip_fig6.png", "figures/clip_fig7.png"]


def test_clip_products_and_lineage(tiny_run):
    for product in PRODUCTS:
        assert (tiny_run / "results" / product).is_file(), product
        assert (tiny_run / "results" / "lineage" / f"{product}.json").is_file(), product
    for stem in ("clip_table1", "clip_retrieval", "clip_zeroshot"):
        assert (tiny_run / "results/tables" / f"{stem}.md").is_file() and (tiny_run / "results/tables" / f"{stem}.tex").is_file()


def test_clip_training_ran_and_resumes_from_its_checkpoint_folder(tiny_run):
    metrics = pd.read_csv(tiny_run / "results/clip/train_metrics.tsv", sep="\t")
    assert metrics["epoch"].tolist() == list(range(1, TINY["clip"]["train"]["epochs"] + 1))
    assert np.isfinite(metrics[["train_loss", "val_loss"]].to_numpy()).all()
    low, high = yaml.safe_load((REPO / "config/config.yaml").read_text())["clip"]["model"]["temperature_clamp"]
    assert ((metrics["logit_scale"] >= np.exp(low) - 1e-6) & (metrics["logit_scale"] <= np.exp(high) + 1e-3)).all()
    assert (tiny_run / "results/checkpoints/clip/train/last.pt").is_file()
    stored = torch.load(tiny_run / "results/clip/model.pt", weights_only=True)
    assert stored["volume_shape"] == [3, *TINY["clip"]["volume_shape"]]


def test_clip_retrieval_and_zeroshot_tables(tiny_run):
    splits = pd.read_csv(tiny_run / "results/clip/splits.tsv", sep="\t")
    n_test = int((splits["split"] == "test").sum())
    retrieval = pd.read_csv(tiny_run / "results/tables/clip_retrieval.csv")
    assert retrieval["direction"].tolist()[:3] == ["report -> image", "image -> report", f"chance ({n_test} candidates)"]
    true_match = retrieval[retrieval["view"] == "true match"]
    assert ((true_match["mean_rank"] >= 1) & (true_match["mean_rank"] <= n_test)).all()
    assert ((retrieval["R@1"] >= 0) & (retrieval["R@1"] <= 1)).all()
    zeroshot = pd.read_csv(tiny_run / "results/tables/clip_zeroshot.csv")
    assert set(zeroshot["reference"]) == {"report-derived", "true"}
    assert (zeroshot["studies"] == n_test).all()
    assert len(pd.read_csv(tiny_run / "results/tables/clip_table3.csv")) == n_test
    table1 = pd.read_csv(tiny_run / "results/tables/clip_table1.csv").set_index("split")
    assert table1.loc["test", "total"] == n_test == TINY["clip"]["split"]["test"]
