"""The default pipeline on the tiny config, end to end, as a user runs it."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from conftest import run_snakemake

pytestmark = pytest.mark.workflow


def test_tables_and_figures_exist(tiny_run):
    for stem in ["results/tables/seqclass_curation_summary"]:
        for ext in ("csv", "md", "tex"):
            assert (tiny_run / f"{stem}.{ext}").stat().st_size > 0
    assert (tiny_run / "results/figures/seqclass_curation_montage.png").stat().st_size > 10_000


def test_second_run_has_nothing_to_do(tiny_run):
    proc = run_snakemake(tiny_run, "-n", "--configfile", "config/tiny.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_every_raw_file_accounted_for_once(tiny_run):
    raw_files = [
        p for p in (tiny_run / "raw/phantom/brain/dicom").rglob("*")
        if p.is_file() and p.name != ".snakemake_timestamp"
    ]
    manifest = pd.read_csv(tiny_run / "results/ingest/manifest.tsv", sep="\t")
    quarantine = pd.read_csv(tiny_run / "results/ingest/quarantine.tsv", sep="\t")
    assert manifest["n_files"].sum() + len(quarantine) == len(raw_files)
    truth = pd.read_csv(tiny_run / "raw/phantom/brain/truth.tsv", sep="\t")
    assert len(manifest) == len(truth)
    assert quarantine.empty, quarantine.head()


def test_no_raw_identifier_under_results(tiny_run):
    truth = pd.read_csv(tiny_run / "raw/phantom/brain/truth.tsv", sep="\t", dtype=str)
    secrets = set()
    for column in ["patient_id", "patient_name", "patient_birth_date", "accession_number"]:
        secrets |= {v for v in truth[column].dropna() if len(v) >= 4}
    # DICOM writes names as FAMILY^GIVEN; look for each part too.
    secrets |= {part for name in truth["patient_name"].dropna() for part in name.split("^") if len(part) >= 4}
    assert secrets
    needles = [s.encode() for s in secrets]
    scanned = 0
    for path in (tiny_run / "results").rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        scanned += 1
        found = [n.decode() for n in needles if n in data]
        assert not found, f"{path} contains raw identifiers {found[:5]}"
    assert scanned > 10


def test_splits_are_patient_disjoint(tiny_run):
    splits = pd.read_csv(tiny_run / "results/seqclass/curate/internal/splits.tsv", sep="\t")
    assert splits.groupby("patient_key")["split"].nunique().max() == 1
    assert set(splits["split"]) == {"train", "val", "test"}


def test_two_clean_runs_give_identical_tables_and_figures(tiny_run, tmp_path):
    from conftest import copy_repository

    folders = ["results/tables", "results/figures"]
    products = [p.relative_to(tiny_run) for folder in folders for p in (tiny_run / folder).rglob("*") if p.is_file()]
    second = copy_repository(tmp_path / "second")
    # The tables and figures only: their lineage records hold paths and times, and are not compared.
    # (Targets first: --configfile takes every word that follows it.)
    run_snakemake(second, *map(str, products), "--cores", "2", "--configfile", "config/tiny.yaml")
    for folder in folders:
        first_files = sorted(p.relative_to(tiny_run) for p in (tiny_run / folder).rglob("*") if p.is_file())
        second_files = sorted(p.relative_to(second) for p in (second / folder).rglob("*") if p.is_file())
        assert first_files and first_files == second_files
        differing = [str(p) for p in first_files if (tiny_run / p).read_bytes() != (second / p).read_bytes()]
        assert not differing, f"not byte-identical across two clean runs: {differing}"
