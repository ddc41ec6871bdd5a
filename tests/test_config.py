"""The config is validated against workflow/schemas/config.schema.yaml before any job starts."""

from __future__ import annotations

from pathlib import Path

import yaml

from conftest import REPO, run_snakemake


def write_config(path: Path, mutate) -> Path:
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    mutate(config)
    path.write_text(yaml.safe_dump(config))
    return path


def dry_run(tmp_path: Path, mutate):
    bad = write_config(tmp_path / "bad.yaml", mutate)
    return run_snakemake(REPO, "-n", "--configfile", str(bad), check=False)


def test_default_config_is_valid():
    proc = run_snakemake(REPO, "-n", "--quiet", "rules", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unknown_key_fails_naming_it(tmp_path):
    proc = dry_run(tmp_path, lambda c: c["seqclass"]["curate"].update(image_sise=84))
    assert proc.returncode != 0
    assert "image_sise" in proc.stdout + proc.stderr


def test_wrong_value_fails_naming_it(tmp_path):
    proc = dry_run(tmp_path, lambda c: c["data"].update(source="pacs"))
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    assert "pacs" in said and "source" in said


def test_dicom_source_requires_root(tmp_path):
    def mutate(c):
        c["data"].update(source="dicom", root=None)
    proc = dry_run(tmp_path, mutate)
    assert proc.returncode != 0
    assert "root" in proc.stdout + proc.stderr
