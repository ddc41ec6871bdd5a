"""The longitudinal study as Snakemake runs it (config/tiny.yaml): tables and figures of paper 002's
Figs. 6 and 8, the grading split, and what re-runs after a change."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from conftest import copy_run, run_snakemake

pytestmark = pytest.mark.workflow

INITS = ["scratch", "random", "longitudinal", "supervised"]
FIGURES = ["fig6", "fig8", "twins", "loss_curves"]


def job_counts(output: str) -> dict[str, int]:
    stats = output.split("Job stats:")[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.MULTILINE) if m[1] != "total"}


def test_pairs_table_comes_from_the_test_distances(tiny_run):
    distances = pd.read_csv(tiny_run / "results/longitudinal/siamese/test_distances.tsv", sep="\t")
    table = pd.read_csv(tiny_run / "results/tables/longitudinal_pairs.csv").set_index("quantity")
    auc = roc_auc_score(distances["same"], -distances["distance"])
    assert table.loc["AUC, same subject vs different subjects", "demo"] == pytest.approx(auc, abs=1e-3)
    assert table.loc["positive pairs (same subject, two time points)", "demo"] == distances["same"].sum()
    splits = pd.read_csv(tiny_run / "results/longitudinal/splits.tsv", sep="\t").set_index("patient_key")["split"]
    index = pd.read_csv(tiny_run / "results/longitudinal/vertebrae/index.tsv", sep="\t")
    vbs = index[index["kind"] == "VB"].set_index("row")
    for side in ("a", "b"):
        assert (vbs.loc[distances[side], "subject_key"].map(splits) == "test").all()
    levels = [vbs.loc[distances[side], "level_index"].to_numpy() for side in ("a", "b")]
    assert (levels[0] == levels[1]).all()
    for name in FIGURES:
        assert (tiny_run / f"results/figures/longitudinal_{name}.png").stat().st_size > 10_000


def test_grading_table_and_split(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/longitudinal_grading.csv")
    assert len(table) == len(INITS)
    sizes = [c for c in table.columns if c.endswith("scans")]
    assert len(sizes) == 3
    assert table[sizes].apply(lambda column: column.between(0, 1)).all().all()
    split = pd.read_csv(tiny_run / "results/longitudinal/grading/split.tsv", sep="\t")
    scans = pd.read_csv(tiny_run / "results/longitudinal/scans.tsv", sep="\t")
    n_scans = scans.groupby("subject_key")["scan_key"].nunique()
    held_out = split.loc[split["split"] != "train", "subject_key"]
    assert (n_scans.loc[held_out] == 1).all(), "a subject with follow-up scans left the grading training set"
    results = pd.concat([pd.read_csv(tiny_run / f"results/longitudinal/grading/{init}/results.tsv", sep="\t")
                         for init in INITS])
    assert results.groupby("subset")["scans"].nunique().eq(1).all()          # the same subsets for every init
    assert np.all(np.diff(sorted(results["subset"].unique())) > 0)


def test_second_run_has_nothing_to_do(tiny_run, tmp_path):
    work = copy_run(tiny_run, tmp_path / "run")
    targets = ["results/tables/longitudinal_grading.csv", "results/tables/longitudinal_pairs.csv"]
    proc = run_snakemake(work, "-n", *targets, "--configfile", "config/tiny.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changed_grading_setting_keeps_the_siamese_network(tiny_run, tmp_path):
    work = copy_run(tiny_run, tmp_path / "run")
    override = tmp_path / "grading.yaml"
    override.write_text(yaml.safe_dump({"longitudinal": {"grading": {"epochs": 3}}}))
    proc = run_snakemake(work, "-n", "--configfile", "config/tiny.yaml", str(override))
    counts = job_counts(proc.stdout)
    assert counts["longitudinal_grade"] == len(INITS)
    assert counts["longitudinal_grading_table"] == counts["longitudinal_fig8"] == counts["longitudinal_loss_curves"] == 1
    for rule in ("longitudinal_pretrain", "longitudinal_pairs", "longitudinal_supervised", "longitudinal_fig6"):
        assert rule not in counts
