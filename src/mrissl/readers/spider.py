"""SPIDER (lumbar spine MRI, van der Graaf et al., Sci Data 2024) in its published layout.

``images/<id>_{t1,t2,t2_SPACE}.mha``, ``masks/<id>_{t1,t2,t2_SPACE}.mha`` (vertebrae, discs,
spinal canal on the image's grid) and ``radiological_gradings.csv`` (one row per disc).
Labels: t1 -> T1, t2 -> T2, t2_SPACE -> T2 (a 3D T2-weighted turbo spin echo; the series
description keeps ``t2_SPACE``). Each patient has one study. The .mha files are converted to
NIfTI by :func:`mrissl.readers.rows.build_manifest`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from mrissl.manifest import QUARANTINE_COLUMNS, file_key
from mrissl.readers.rows import Rejected, SeriesFile, patient_key

SPIDER_FILE = re.compile(r"(?P<subject>.+?)_(?P<sequence>t1|t2|t2_SPACE)\.mha")
SPIDER_LABELS = {"t1": "T1", "t2": "T2", "t2_SPACE": "T2"}
# Mask labels, numbered from the bottom as SPIDER does: vertebra 1 is the lowest labelled one (S1
# when the sacrum is in view, as in the embedded spine cohort), the disc above vertebra n is 200 + n
# (201: L5-S1), the spinal canal 100. The gradings' "IVD label" n is the disc labelled 200 + n.
SPIDER_VERTEBRA_LABELS = {"S1": 1, "L5": 2, "L4": 3, "L3": 4, "L2": 5, "L1": 6, "T12": 7}
SPIDER_DISC_LABELS = {"L5-S1": 201, "L4-L5": 202, "L3-L4": 203, "L2-L3": 204, "L1-L2": 205, "T12-L1": 206}
SPIDER_CANAL_LABEL = 100
# The gradings' IVD label -> the disc's level: the level vocabulary a gradings row must name.
SPIDER_IVD_LEVELS = {label - 200: level for level, label in SPIDER_DISC_LABELS.items()}
SPIDER_GRADINGS_FILE = "radiological_gradings.csv"
# radiological_gradings.csv columns (as published, "Pfirrman" included) -> tidy names.
SPIDER_GRADINGS = {
    "Patient": "patient_key",
    "IVD label": "ivd_label",
    "Modic": "modic",
    "UP endplate": "up_endplate",
    "LOW endplate": "low_endplate",
    "Spondylolisthesis": "spondylolisthesis",
    "Disc herniation": "disc_herniation",
    "Disc narrowing": "disc_narrowing",
    "Disc bulging": "disc_bulging",
    "Pfirrman grade": "pfirrmann_grade",
}


def find_spider(root: Path) -> Iterator[SeriesFile | Rejected]:
    for image in sorted((root / "images").glob("*.mha")):
        match = SPIDER_FILE.fullmatch(image.name)
        if match is None:
            yield Rejected(image, "name is not <id>_<t1|t2|t2_SPACE>.mha (SPIDER layout)")
            continue
        mask = root / "masks" / image.name
        yield SeriesFile(
            image=image,
            subject=match["subject"],
            label=SPIDER_LABELS[match["sequence"]],
            description=match["sequence"],
            mask=mask if mask.is_file() else None,
        )


def read_spider_gradings(root: Path | str, salt: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SPIDER's disc gradings, one row per disc, keyed by the manifest's salted patient key, and the
    quarantine rows (QUARANTINE_COLUMNS) of the gradings no disc mask can take.

    Columns: patient_key, ivd_label, modic, up_endplate, low_endplate, spondylolisthesis,
    disc_herniation, disc_narrowing, disc_bulging, pfirrmann_grade. A row without a patient, or
    whose IVD label is not one of SPIDER_IVD_LEVELS, is quarantined with a reason naming the file
    (a name the layout fixes, so it names no patient) and its line; the other rows are kept. A
    table without SPIDER's columns is an error.
    """
    path = Path(root) / SPIDER_GRADINGS_FILE
    table = pd.read_csv(path, dtype={"Patient": str, "IVD label": str})
    missing = [column for column in SPIDER_GRADINGS if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: lacks the SPIDER columns {missing}; is this SPIDER's radiological_gradings.csv?")
    tidy = table[list(SPIDER_GRADINGS)].rename(columns=SPIDER_GRADINGS)
    reasons = [unusable_grading(patient, label) for patient, label in zip(tidy["patient_key"], tidy["ivd_label"])]
    quarantine = pd.DataFrame(
        [{"file_key": file_key(salt, path.name), "reason": f"{path.name} line {row + 2}: {reason}"}  # line 1: header
         for row, reason in enumerate(reasons) if reason],
        columns=QUARANTINE_COLUMNS,
    )
    tidy = tidy[[reason is None for reason in reasons]].reset_index(drop=True)
    tidy["ivd_label"] = pd.to_numeric(tidy["ivd_label"]).astype(int)
    tidy["patient_key"] = [patient_key(salt, "spider", subject.strip()) for subject in tidy["patient_key"]]
    return tidy, quarantine


def unusable_grading(patient: str | float, ivd_label: str | float) -> str | None:
    """Why a gradings row (its Patient and IVD label as written; NaN when blank) cannot be used, or None."""
    if pd.isna(patient) or not patient.strip():
        return "no Patient"
    if pd.isna(ivd_label) or not ivd_label.strip():
        return "no IVD label"
    number = pd.to_numeric(ivd_label, errors="coerce")
    if number not in SPIDER_IVD_LEVELS:
        known = ", ".join(f"{n} {level}" for n, level in sorted(SPIDER_IVD_LEVELS.items()))
        return (f"IVD label {ivd_label!r} names no disc level of the vocabulary (known: {known}; IVD label n "
                f"is the disc of mask label 200 + n); the row is left out")
    return None
