"""Lineage records on a toy three-job workflow that uses the project's own `lineage` rule."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, REPO, run_snakemake
from mrissl.lineage import main, metadata_path, render_lineage

TARGET = "results/tables/summary.csv"
RECORD = "results/lineage/tables/summary.csv.json"

SNAKEFILE = f"""
configfile: "config/toy.yaml"

def threads_of(kind):
    return 1

def resources_of(kind):
    return {{"mem_mb": 500}}

include: "workflow/rules/toy.smk"
include: "{REPO}/workflow/rules/lineage.smk"

rule all:
    input: "{TARGET}", "{RECORD}"
"""

# Project layout: rules in workflow/rules/, scripts in scripts/, named relative to the rule file;
# `script:` on one line and on two (Snakemake records different code for the two).
RULES = """
rule ingest:
    input: "raw/dicom"
    output: "results/ingest/manifest.tsv"
    params: salt=config["ingest"]["salt"]
    log: "logs/ingest.log"
    script: "../../scripts/ingest.py"

rule curate:
    input: "results/ingest/manifest.tsv"
    output: first="results/curate/first.tsv", rest="results/curate/rest.tsv"
    params: split={"train": config["train_fraction"]}
    shell: "head -n 2 {input} > {output.first} && tail -n +3 {input} > {output.rest}"

rule summary:
    input: first="results/curate/first.tsv", rest="results/curate/rest.tsv", config="config/toy.yaml"
    output: "results/tables/summary.csv"
    params: caption="Toy summary"
    script:
        "../../scripts/summary.py"
"""

INGEST = """
from pathlib import Path
root = Path(snakemake.input[0])
rows = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
Path(snakemake.output[0]).write_text("".join(f"{snakemake.params.salt}\\t{r}\\n" for r in rows))
"""

SUMMARY = """
from pathlib import Path
lines = Path(snakemake.input.first).read_text() + Path(snakemake.input.rest).read_text()
Path(snakemake.output[0]).write_text(f"{snakemake.params.caption},{len(lines.splitlines())}\\n" + lines)
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def directory_digest(root: Path) -> str:
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return hashlib.sha256("".join(f"{sha256(root / rel)}  {rel}\n" for rel in files).encode()).hexdigest()


def git(workdir: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=workdir, check=True, capture_output=True, text=True).stdout


def make_toy(tmp_path: Path) -> Path:
    """The toy workflow, run once: raw/dicom -> ingest -> curate (two outputs) -> summary, plus lineage."""
    (tmp_path / "workflow/rules").mkdir(parents=True)
    (tmp_path / "scripts").mkdir()
    (tmp_path / "config").mkdir()
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "workflow/rules/toy.smk").write_text(RULES)
    (tmp_path / "scripts/ingest.py").write_text(INGEST)
    (tmp_path / "scripts/summary.py").write_text(SUMMARY)
    (tmp_path / "config/toy.yaml").write_text("ingest: {salt: toy-salt}\ntrain_fraction: 0.7\n")
    for series, n in [("p1/s1", 3), ("p1/s2", 2), ("p2/s1", 4)]:
        (tmp_path / "raw/dicom" / series).mkdir(parents=True)
        for i in range(n):
            (tmp_path / "raw/dicom" / series / f"{i:03d}.dcm").write_bytes(f"{series} slice {i}".encode())
    (tmp_path / ".gitignore").write_text("results/\n.snakemake/\nlogs/\nbenchmarks/\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "toy")
    run_snakemake(tmp_path, "--cores", "1")
    return tmp_path


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """Shared by the tests that only read it."""
    return make_toy(tmp_path_factory.mktemp("toy"))


def cli(workdir: Path, *args: str) -> str:
    return subprocess.run(
        [str(BIN / "mrissl-lineage"), *args], cwd=workdir, check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.workflow
def test_record_names_every_upstream_file_rule_and_version(toy):
    record = json.loads((toy / RECORD).read_text())
    assert record["target"] == TARGET and record["rule"] == "summary"
    assert record["sha256"] == sha256(toy / TARGET)

    produced = {
        "results/ingest/manifest.tsv": "ingest",
        "results/curate/first.tsv": "curate",
        "results/curate/rest.tsv": "curate",
        TARGET: "summary",
    }
    assert set(record["files"]) == {"raw/dicom", "config/toy.yaml", *produced}
    assert sorted(record["sources"]) == ["config/toy.yaml", "raw/dicom"]
    raw = record["files"]["raw/dicom"]
    assert raw == {"kind": "directory", "sha256": directory_digest(toy / "raw/dicom"), "n_files": 9, "rule": None}
    for path, rule in produced.items():
        assert record["files"][path] == {"kind": "file", "sha256": sha256(toy / path), "rule": rule}
    assert record["files"]["config/toy.yaml"]["sha256"] == sha256(toy / "config/toy.yaml")

    ingest, curate, summary = record["steps"]
    assert [ingest["rule"], curate["rule"], summary["rule"]] == ["ingest", "curate", "summary"]
    assert ingest["script"] == {"path": "scripts/ingest.py", "sha256": sha256(toy / "scripts/ingest.py")}
    assert record["script"] == summary["script"] and summary["script"]["path"] == "scripts/summary.py"
    assert ingest["params"] == ["'<redacted>'"]  # the lineage rule redacts config ingest.salt
    assert "toy-salt" not in (toy / RECORD).read_text()
    assert curate["params"] == ["{'train': 0.7}"] and curate["shell"].startswith("head -n 2 results/ingest")
    assert sorted(curate["outputs"]) == ["results/curate/first.tsv", "results/curate/rest.tsv"]
    assert record["warnings"] == []

    packages = record["software"]["packages"]
    for name in ["torch", "monai", "numpy", "pandas", "nibabel", "pydicom", "scikit-learn", "snakemake"]:
        assert packages[name] == importlib.metadata.version(name)
    assert record["code"]["git"] == {"commit": git(toy, "rev-parse", "HEAD").strip(), "dirty": False}
    library = record["code"]["mrissl"]
    assert library["files"]["lineage.py"] == sha256(REPO / "src/mrissl/lineage.py")


@pytest.mark.workflow
def test_cli_prints_the_chain_in_order_and_matches_the_record(toy):
    text = cli(toy, TARGET)
    order = ["raw/dicom/", "1. rule ingest", "scripts/ingest.py", "2. rule curate", "3. rule summary", "Code: mrissl"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert sha256(toy / "results/curate/rest.tsv") in text
    # Built afresh (no hash cache) it equals what the rule wrote, but for the library digest: the
    # library is the repository's, which may be edited meanwhile. The stored record prints too.
    fresh = json.loads(cli(toy, TARGET, "--json", "--no-cache", "--redact", "toy-salt"))
    stored = json.loads((toy / RECORD).read_text())
    assert cli(toy, RECORD) == render_lineage(stored)
    for record in (fresh, stored):
        record["code"].pop("mrissl")
    assert fresh == stored


@pytest.mark.workflow
def test_lineage_never_reruns_tables_and_follows_an_upstream_change(tmp_path):
    toy = make_toy(tmp_path)
    dry_run = run_snakemake(toy, "--cores", "1", "-n")
    assert "Nothing to be done" in dry_run.stdout + dry_run.stderr
    table_mtime = (toy / TARGET).stat().st_mtime_ns
    run_snakemake(toy, "--cores", "1", "--forcerun", "lineage")
    assert (toy / TARGET).stat().st_mtime_ns == table_mtime

    changed = toy / "results/curate/rest.tsv"
    changed.write_text("edited\trow\n")
    run_snakemake(toy, "--cores", "1")
    record = json.loads((toy / RECORD).read_text())
    assert record["files"]["results/curate/rest.tsv"]["sha256"] == sha256(changed)
    assert record["sha256"] == sha256(toy / TARGET)
    assert "edited" in (toy / TARGET).read_text()


@pytest.mark.workflow
def test_unknown_target_fails_with_the_fix(toy, capsys):
    assert main(["results/tables/absent.csv", "--workdir", str(toy)]) == 1
    assert "snakemake results/tables/absent.csv" in capsys.readouterr().err


def test_metadata_path_matches_snakemake_for_long_names(tmp_path):
    from snakemake.persistence.file import FilePersistence

    class Naming:  # FilePersistence._record_path needs only the name limit of the folder
        def _fetch_max_len(self, subject):
            return 255

    (tmp_path / ".snakemake/metadata").mkdir(parents=True)
    for key in ["results/tables/x.csv", "results/" + "deep/" * 80 + "x.npy"]:
        expected = FilePersistence._record_path(Naming(), str(tmp_path / ".snakemake/metadata"), key)
        assert metadata_path(tmp_path, key) == Path(expected)
