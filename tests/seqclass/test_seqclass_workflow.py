"""The seqclass study as Snakemake runs it: tables and figures, label subsets, what re-runs after a change,
resuming a killed pretraining job, and the paper grid."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO, SNAKEMAKE, copy_repository, copy_run, run_snakemake

pytestmark = pytest.mark.workflow

TINY = yaml.safe_load((REPO / "config/tiny.yaml").read_text())["seqclass"]
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())["seqclass"]
FRACTIONS = [format(f, "g") for f in DEFAULT["finetune"]["fractions"]]  # tiny keeps the default fractions
PERCENT = [f"{float(f) * 100:g}%" for f in FRACTIONS]


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a Snakemake (dry) run: rule -> number of jobs."""
    stats = output.split("Job stats:")[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.MULTILINE) if m[1] != "total"}


TINY_SITES = yaml.safe_load((REPO / "config/tiny.yaml").read_text())["phantom"]["external_sites"]
SITES = {  # the tiny run's: the default's sites, less those tiny.yaml sets to null
    site: spec
    for site, spec in yaml.safe_load((REPO / "config/config.yaml").read_text())["phantom"]["external_sites"].items()
    if TINY_SITES.get(site, {}) is not None
}
SCENARIOS = ["1 supervised only", "2 pretrained, fine-tuned internal", "3 pretrained, fine-tuned on site"]


def test_tables_have_the_papers_layout(tiny_run):
    batch = TINY["batch_sweep"]["batch_sizes"]
    for stem, corner, columns in [
        ("seqclass_table1", "SimSiam", [str(b) for b in batch]),
        ("seqclass_table2", "SimCLR", [str(b) for b in batch]),
        ("seqclass_table3", "SimSiam", [f"{b}_{s}" for b in TINY["resolution_sweep"]["batch_sizes"]
                                        for s in TINY["resolution_sweep"]["image_sizes"]]),
        ("seqclass_baselines", "fraction", ["scratch", "header_per_slice", "header_per_series"]),
    ]:
        table = pd.read_csv(tiny_run / f"results/tables/{stem}.csv")
        assert list(table.columns) == [corner, *columns], stem
        assert list(table[corner]) == PERCENT, stem
        values = table[columns].to_numpy()
        assert ((values >= 0) & (values <= 1)).all(), stem
        for ext in ("md", "tex"):
            assert (tiny_run / f"results/tables/{stem}.{ext}").stat().st_size > 0
    for name in ["fig2", "confusion", "loss_curves", "fig3"]:
        assert (tiny_run / f"results/figures/seqclass_{name}.png").stat().st_size > 20_000, name
        assert (tiny_run / f"results/lineage/figures/seqclass_{name}.png.json").is_file(), name


def test_table_values_come_from_the_evaluation(tiny_run):
    sweep = TINY["batch_sweep"]
    run = f"simclr_b{sweep['batch_sizes'][0]}_px{sweep['image_size']}"
    accuracy = pd.read_csv(tiny_run / f"results/seqclass/internal/evaluate/{run}/seed1/accuracy.tsv", sep="\t",
                           dtype={"fraction": str})
    table2 = pd.read_csv(tiny_run / "results/tables/seqclass_table2.csv")
    # Written with 3 decimals (printf rounding, which can differ from numpy's round on a ...5).
    assert table2[str(sweep["batch_sizes"][0])].tolist() == pytest.approx(accuracy["accuracy"].tolist(), abs=5e-4 + 1e-9)
    # The confusion matrices hold every test slice once per fraction.
    confusion = pd.read_csv(tiny_run / f"results/seqclass/internal/evaluate/{run}/seed1/confusion.tsv", sep="\t",
                            dtype={"fraction": str})
    per_fraction = confusion.drop(columns="true").groupby("fraction").sum().sum(axis=1)
    assert (per_fraction == accuracy.set_index("fraction")["n_test"]).all()


def test_label_subsets_are_nested_and_by_patient(tiny_run):
    subsets = pd.read_csv(tiny_run / "results/seqclass/internal/label_subsets/seed1.tsv", sep="\t",
                          dtype={"fraction": str, "patient_key": str})
    train = pd.read_csv(tiny_run / "results/seqclass/curate/internal/slices/train.tsv", sep="\t", dtype={"patient_key": str})
    rows = {f: set(subsets.loc[subsets["fraction"] == f, "row"]) for f in FRACTIONS}
    for smaller, larger in zip(FRACTIONS, FRACTIONS[1:]):
        assert rows[smaller] <= rows[larger]
    assert rows["1"] == set(train["row"])
    slices_per_patient = train.groupby("patient_key").size()
    for fraction in FRACTIONS:
        of_fraction = subsets[subsets["fraction"] == fraction]
        assert set(of_fraction["label"]) == set(train["label"]), "every class labelled at every fraction"
        # Whole patients, except the last one cut and single slices added for missing classes.
        partial = of_fraction.groupby("patient_key").size() < slices_per_patient[of_fraction["patient_key"].unique()]
        assert partial.sum() <= 1 + len(set(train["label"])), fraction


def test_fine_tuning_never_reads_the_test_split(tiny_run):
    from mrissl.lineage import metadata_path

    model = f"results/seqclass/internal/finetune/scratch_px{TINY['batch_sweep']['image_size']}/seed1/fraction1.pt"
    record = yaml.safe_load(metadata_path(tiny_run, model).read_text())
    assert "results/seqclass/curate/internal/slices/val.npy" in record["input"]
    assert not [path for path in record["input"] if "test" in path]
    state = torch.load(tiny_run / model, weights_only=True)
    assert "head.weight" in state



@pytest.mark.parametrize("script, rules", [
    ("seqclass_loss_curves.py", {"seqclass_loss_curves": 1}),
    ("seqclass_accuracy_table.py", {"seqclass_accuracy_table": 3}),
])
def test_changed_render_script_reruns_only_its_rule(tiny_run, tmp_path, script, rules):
    work = copy_run(tiny_run, tmp_path / "run")
    (work / "scripts" / script).touch()
    proc = run_snakemake(work, "-n", "--configfile", "config/tiny.yaml")
    expected = {**rules, "lineage": sum(rules.values()), "all": 1}
    assert job_counts(proc.stdout) == expected


def test_changed_fine_tuning_setting_reruns_fine_tuning_and_what_follows(tiny_run, tmp_path):
    work = copy_run(tiny_run, tmp_path / "run")
    override = tmp_path / "epochs.yaml"
    override.write_text(yaml.safe_dump({"seqclass": {"finetune": {"epochs": 2}}}))
    proc = run_snakemake(work, "-n", "--configfile", "config/tiny.yaml", str(override))
    counts = job_counts(proc.stdout)
    assert "seqclass_pretrain" not in counts and "seqclass_header_baseline" not in counts
    # Internally 2 pretrained runs + scratch; on each external site the focus run + scratch.
    assert counts["seqclass_finetune"] == counts["seqclass_evaluate"] == 3 + 2 * len(SITES)
    assert counts["seqclass_transfer_evaluate"] == len(SITES)
    assert "seqclass_transfer_dataset" not in counts and "phantom_external_site" not in counts


def _pretrain_processes(workdir: Path) -> list[int]:
    """Ids of the pretraining script processes of this test's Snakemake run (its own children only)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if proc.name.isdigit() and str(workdir) in cmdline and "seqclass_pretrain.py" in cmdline:
            pids.append(int(proc.name))
    return pids


def test_killed_pretraining_resumes_from_its_checkpoint(tiny_run, tmp_path):
    work = copy_run(tiny_run, tmp_path / "run")
    # Any run can be asked for: 16 px keeps the epochs short, 10 of them leave time to kill the job.
    run, epochs = "simclr_b64_px16", 10
    override = tmp_path / "epochs.yaml"
    override.write_text(yaml.safe_dump({"seqclass": {"pretrain": {"epochs": epochs}}}))
    metrics = f"results/seqclass/pretrain/{run}/seed1/metrics.csv"
    checkpoint = work / f"results/checkpoints/seqclass/pretrain/{run}/seed1/last.pt"
    args = [metrics, "--cores", "2", "--configfile", "config/tiny.yaml", str(override)]  # --configfile takes 1+

    snakemake = subprocess.Popen([SNAKEMAKE, *args], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env={**os.environ, "PATH": f"{Path(SNAKEMAKE).parent}{os.pathsep}{os.environ['PATH']}"})
    try:
        deadline = time.monotonic() + 300
        while not checkpoint.exists():
            assert snakemake.poll() is None and time.monotonic() < deadline, "no checkpoint was written"
            time.sleep(0.05)
        for pid in _pretrain_processes(work):
            os.kill(pid, signal.SIGKILL)  # as a cluster does when a job runs out of time
        assert snakemake.wait(timeout=120) != 0, "the job finished before it could be killed"
    finally:
        if snakemake.poll() is None:
            snakemake.kill()
    killed_at = torch.load(checkpoint, weights_only=True)["epoch"]
    assert 1 <= killed_at < epochs

    run_snakemake(work, *args)
    log = (work / f"logs/seqclass/pretrain/{run}_seed1.log").read_text()
    assert f"resuming simclr from epoch {killed_at} of {epochs}" in log
    assert pd.read_csv(work / metrics)["epoch"].tolist() == list(range(1, epochs + 1))
    assert not checkpoint.parent.exists(), "the checkpoint folder is removed once the outputs are written"


def test_image_size_above_the_curated_one_is_refused(tmp_path):
    override = tmp_path / "big.yaml"
    override.write_text(yaml.safe_dump({"seqclass": {"resolution_sweep": {"image_sizes": [84, 256]}}}))
    proc = run_snakemake(REPO, "-n", "--configfile", str(override), check=False)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert "curate.image_size" in message and "256" in message


def test_paper_config_lists_the_paper_grid(tmp_path):
    work = copy_repository(tmp_path / "repo")
    proc = run_snakemake(work, "-n", "--configfile", "config/paper.yaml")
    counts = job_counts(proc.stdout)
    # Tables 1-2: 2 methods x 6 batch sizes at 84 px; Table 3 adds SimSiam 64 and 128 at 256 px.
    assert counts["seqclass_pretrain"] == 14
    # Internal: 14 runs + scratch; Fig. 3: the focus run and scratch on each of the 2 external sites.
    assert counts["seqclass_finetune"] == counts["seqclass_evaluate"] == 15 + 2 * 2
    assert counts["seqclass_transfer_evaluate"] == 2  # the focus run fine-tuned internally, on each site
    assert counts["phantom_external_site"] == 2
    # One split and three slice jobs per cohort: the internal one and each site.
    assert counts["seqclass_split"] == 1 + 2 and counts["seqclass_slices"] == (1 + 2) * 3
    assert counts["seqclass_transfer_dataset"] == 2 * 3
    assert counts["seqclass_accuracy_table"] == 3
    assert counts["seqclass_transfer_table"] == counts["seqclass_fig3"] == counts["seqclass_sites"] == 1
    assert counts["seqclass_embed"] == counts["seqclass_latent"] == 1
    assert counts["seqclass_label_subsets"] == 1 + 2
    assert counts["seqclass_header_baseline"] == 1


def test_external_transfer_table_and_its_datasets(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/seqclass_transfer.csv")
    assert list(table.columns) == ["site", "fraction", *SCENARIOS, "site images"]
    assert list(table["site"]) == [site for site in SITES for _ in PERCENT]
    assert list(table["fraction"]) == PERCENT * len(SITES)
    assert table[SCENARIOS].notna().all().all()
    for site, spec in SITES.items():
        # Every fraction holds images of each site class (by class), more in larger fractions.
        subsets = pd.read_csv(tiny_run / f"results/seqclass/{site}/label_subsets/seed1.tsv", sep="\t", dtype=str)
        own = subsets[subsets["label"].isin(spec["classes"])]
        assert (own.groupby("fraction")["label"].nunique() == len(spec["classes"])).all()
        per_fraction = own.groupby("fraction").size()
        assert table.loc[table["site"] == site, "site images"].tolist() == [per_fraction[f] for f in FRACTIONS]
        # Each scenario is tested on the site's own test slices, and only on them.
        test = pd.read_csv(tiny_run / f"results/seqclass/{site}/slices/test.tsv", sep="\t")
        assert set(test["label"]) == set(spec["classes"])
        focus = "{method}_b{batch_size}_px{image_size}".format(**TINY["focus_run"])
        scratch = f"scratch_px{TINY['batch_sweep']['image_size']}"
        for folder in (f"evaluate/{scratch}", f"transfer/{focus}", f"evaluate/{focus}"):
            accuracy = pd.read_csv(tiny_run / f"results/seqclass/{site}/{folder}/seed1/accuracy.tsv", sep="\t")
            assert (accuracy["n_test"] == len(test)).all(), (site, folder)
        # Training takes the site's classes from the site, and internal series of every other class.
        train = pd.read_csv(tiny_run / f"results/seqclass/{site}/slices/train.tsv", sep="\t", dtype=str)
        site_train = pd.read_csv(tiny_run / f"results/seqclass/curate/{site}/slices/train.tsv", sep="\t", dtype=str)
        internal = pd.read_csv(tiny_run / "results/seqclass/curate/internal/slices/train.tsv", sep="\t", dtype=str)
        from_site = train["series_key"].isin(site_train["series_key"])
        assert set(train.loc[from_site, "series_key"]) == set(site_train["series_key"])
        assert set(train.loc[~from_site, "series_key"]) <= set(internal["series_key"])
        assert set(train.loc[~from_site, "label"]) == set(internal["label"]) - set(spec["classes"])


def test_warm_up_as_long_as_the_run_is_refused(tmp_path):
    override = tmp_path / "warm.yaml"
    override.write_text(yaml.safe_dump({"seqclass": {"pretrain": {"epochs": 5, "recipes": {"simclr": {"warmup_epochs": 5}}}}}))
    proc = run_snakemake(REPO, "-n", "--configfile", str(override), check=False)
    assert proc.returncode != 0
    assert "seqclass.pretrain.recipes.simclr.warmup_epochs" in proc.stdout + proc.stderr


def test_matched_validation_draws_validation_patients_at_each_fraction(tiny_run):
    """tiny.yaml selects on matched validation sets: smaller fractions select on fewer validation slices."""
    assert TINY["finetune"]["val_labels"] == "matched"
    log = (tiny_run / f"logs/seqclass/internal/finetune/scratch_px{TINY['batch_sweep']['image_size']}_seed1.log").read_text()
    n_val = [int(n) for n in re.findall(r"selected on (\d+) validation slices", log)]
    full = len(pd.read_csv(tiny_run / "results/seqclass/curate/internal/slices/val.tsv", sep="\t"))
    assert len(n_val) == len(FRACTIONS) and n_val == sorted(n_val) and n_val[0] < n_val[-1] == full
    table = (tiny_run / "results/tables/seqclass_table1.md").read_text()
    assert "labelled subsets of whole patients; each fine-tuning keeps the epoch best on whole patients of the validation split drawn at its label fraction" in table
