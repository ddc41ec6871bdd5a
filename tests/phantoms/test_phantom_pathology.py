"""The brain-pathology cohort (clip): BIDS layout the reader takes, lesions visible per physics, noisy report labels."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mrissl.phantoms import mr_physics as mr
from mrissl.phantoms.anatomy import mni_head, random_subject_deformation
from mrissl.phantoms.brain import Study, render_series
from mrissl.phantoms.lesions import class_lesion, haemorrhage, infarct, with_lesions
from mrissl.phantoms.pathology import (
    LABELS_COLUMNS,
    MOTION_COLUMNS,
    PathologyCohortConfig,
    series_protocol,
    class_counts,
    generate_pathology_cohort,
)
from mrissl.phantoms.pathology_reports import CLASSES, report_class, write_report
from mrissl.readers import read_dataset

CONFIG = PathologyCohortConfig(
    n_subjects=5, follow_up_rate=0.4, class_weights=dict.fromkeys(CLASSES, 1.0), matrix=(64, 96),
    slice_thickness_mm=(4.0, 7.0), field_strengths_t=(1.5, 3.0), noise=(0.01, 0.03), bias_field=0.2,
    motion_mm=6.0, motion_deg=6.0, report_noise=0.2,
)


def generate(root: Path) -> pd.DataFrame:
    return generate_pathology_cohort(CONFIG, 7, root / "data", root / "reports.tsv", root / "labels.tsv",
                                     root / "motion.tsv")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pathology")
    generate(root)
    return root


def test_cohort_is_bids_with_side_tables(cohort):
    labels = pd.read_csv(cohort / "labels.tsv", sep="\t", keep_default_na=False)
    assert list(labels.columns) == LABELS_COLUMNS
    assert sorted(labels.drop_duplicates("subject")["true_class"]) == sorted(CLASSES)  # one subject per class
    assert labels.groupby("subject")["true_class"].nunique().eq(1).all()
    assert len(labels) > CONFIG.n_subjects  # follow-ups
    reports = pd.read_csv(cohort / "reports.tsv", sep="\t")
    assert reports[["subject", "session"]].equals(labels[["subject", "session"]])
    motion = pd.read_csv(cohort / "motion.tsv", sep="\t")
    assert list(motion.columns) == MOTION_COLUMNS and len(motion) == 2 * len(labels)
    assert set(motion["sequence"]) == {"T2star", "DWI"}
    # "Several" mm and degrees: each draw is 0.3-1 times the configured maximum.
    assert motion["rotation_deg"].between(0.3 * 6.0 - 1e-3, 6.0 + 1e-3).all()
    for row in labels.itertuples():
        folder = cohort / "data" / row.subject / row.session
        stem = f"{row.subject}_{row.session}"
        for name in (f"anat/{stem}_FLAIR", f"anat/{stem}_T2starw", f"dwi/{stem}_dwi"):
            assert (folder / f"{name}.nii.gz").is_file() and (folder / f"{name}.json").is_file()
        assert (folder / "dwi" / f"{stem}_dwi.bval").read_text().split() == ["1000"]
    assert (cohort / "data" / "participants.tsv").is_file()


def test_bids_reader_reads_all_three_sequences(cohort, tmp_path):
    manifest, quarantine = read_dataset("bids", cohort / "data", "salt", tmp_path / "nifti")
    assert quarantine.empty
    n_studies = len(pd.read_csv(cohort / "labels.tsv", sep="\t"))
    assert manifest["label"].value_counts().to_dict() == {"FLAIR": n_studies, "GRE": n_studies, "TraceW": n_studies}
    assert (manifest.loc[manifest["label"] == "TraceW", "b_value"] == 1000.0).all()
    assert manifest["study_key"].nunique() == n_studies
    assert manifest["patient_key"].nunique() == CONFIG.n_subjects
    assert manifest["repetition_time_ms"].notna().all() and manifest["manufacturer"].notna().all()
    # Different resolutions: the three series of a study never share their grid.
    assert manifest.groupby("study_key")["spacing_mm"].nunique().eq(3).all()


def test_same_seed_same_bytes(cohort, tmp_path):
    generate(tmp_path)

    def digest(root: Path) -> dict[str, str]:
        return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    assert digest(tmp_path) == digest(cohort)


def test_class_counts_are_exact():
    assert class_counts(dict(infarct=0.25, tumour=0.2, haemorrhage=0.15, normal=0.2, other=0.2), 30) == {
        "infarct": 8, "tumour": 6, "haemorrhage": 4, "normal": 6, "other": 6}  # 7.5 + 6 + 4.5 + 6 + 6
    assert sum(class_counts(dict.fromkeys(CLASSES, 1.0), 1100).values()) == 1100


@pytest.mark.parametrize(("label", "sequence", "tissue", "brighter"), [
    ("infarct", "DWI", "infarct", True),          # restricted diffusion: bright on b1000
    ("haemorrhage", "T2star", "haemorrhage", False),  # deoxyhaemoglobin: dark on T2*
    ("tumour", "FLAIR", "oedema", True),          # vasogenic oedema: bright on FLAIR
])
def test_lesion_tissue_contrast(label, sequence, tissue, brighter):
    rng = np.random.default_rng(0)
    for field in mr.FIELD_STRENGTHS_T:
        seq = series_protocol(rng, sequence, "SIEMENS", field).sequence
        lesion, white = mr.tissue_signal(mr.tissue(tissue, field), seq), mr.tissue_signal(mr.tissue("wm", field), seq)
        grey = mr.tissue_signal(mr.tissue("gm", field), seq)
        assert (lesion > 1.2 * max(white, grey)) if brighter else (lesion < 0.5 * min(white, grey))


@pytest.mark.parametrize(("maker", "sequence", "sign"), [
    (lambda rng, head: infarct(rng, head, acute=True), "DWI", 1.0),
    (haemorrhage, "T2star", -1.0),
])
def test_lesion_shows_in_the_rendered_series(maker, sequence, sign):
    """The same acquisition (same random draws) with and without the lesion: it changes the image the right way."""
    head = mni_head()
    rng = np.random.default_rng(3)
    deformation = random_subject_deformation(rng, head)
    lesion = maker(rng, head)
    lesioned = with_lesions(head, [lesion])
    tissues = {name: mr.tissue(name, 1.5) for name in lesioned.tissues}
    pose = np.eye(4)
    pose[:3, :3] = np.diag([-1.0, -1.0, 1.0])  # scanner LPS -> subject RAS
    pose[:3, 3] = head.brain_center
    study = Study("SIEMENS", "Aera", 1.5, tissues, deformation.after(pose), {})
    protocol = series_protocol(np.random.default_rng(1), sequence, "SIEMENS", 1.5)
    config = CONFIG.scanner()
    without, _, _ = render_series(head, study, protocol, config, np.random.default_rng(2))
    with_it, _, _ = render_series(lesioned, study, protocol, config, np.random.default_rng(2),
                                  coarse_head=lesioned.block_averaged(2))
    change = sign * (with_it - without)
    assert change.max() > 0.3 * without.max()  # a conspicuous lesion
    assert change.sum() > 5 * np.abs(np.minimum(change, 0)).sum()


def test_report_classifier_handles_negation_and_misreads():
    assert report_class("No acute infarcts / haemorrhage / focal lesions. Page 1 of 1") == "normal"
    assert report_class("Acute haemorrhage in the left putamen. No underlying mass lesion.") == "haemorrhage"
    assert report_class("Chronic infarct in the right thalamus. No intracranial haemorrhage.") == "infarct"
    assert report_class("Normal study. Haemorrhage is not seen.") == "haemorrhage"  # negation after the term
    rng = np.random.default_rng(0)
    head = mni_head()
    for label in CLASSES:
        main = class_lesion(rng, head, label)
        assert report_class(write_report(rng, label, main, [], misread=False)) == label
        assert report_class(write_report(rng, label, main, [], misread=True)) != label


def test_from_config_names_unknown_keys():
    section = {f.name: getattr(CONFIG, f.name) for f in dataclasses.fields(CONFIG)}
    assert PathologyCohortConfig.from_config(section) == CONFIG
    with pytest.raises(ValueError, match="unknown keys"):
        PathologyCohortConfig.from_config({**section, "n_patients": 3})
    with pytest.raises(ValueError, match="class_weights"):
        PathologyCohortConfig.from_config({**section, "class_weights": {"infarct": 1.0}})
