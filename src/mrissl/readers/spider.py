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

from mrissl.readers.rows import Rejected, SeriesFile, patient_key

SPIDER_FILE = re.compile(r"(?P<subject>.+?)_(?P<sequence>t1|t2|t2_SPACE)\.mha")
SPIDER_LABELS = {"t1": "T1", "t2": "T2", "t2_SPACE": "T2"}
# Mask labels, numbered from the bottom as SPIDER does: vertebra 1 is the lowest labelled one (S1
# when the sacrum is in view, as in the embedded spine cohort), the disc above vertebra n is 200 + n
# (201: L5-S1), the spinal canal 100. The gradings' "IVD label" n is the disc labelled 200 + n.
SPIDER_VERTEBRA_LABELS = {"S1": 1, "L5": 2, "L4": 3, "L3": 4, "L2": 5, "L1": 6, "T12": 7}
SPIDER_DISC_LABELS = {"L5-S1": 201, "L4-L5": 202, "L3-L4": 203, "L2-L3": 204, "L1-L2": 205, "T12-L1": 206}
SPIDER_CANAL_LABEL = 100
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


def read_spider_gradings(root: Path | str, salt: str) -> pd.DataFrame:
    """SPIDER's disc gradings, one row per disc, keyed by the manifest's salted patient key.

    Columns: patient_key, ivd_label, modic, up_endplate, low_endplate, spondylolisthesis,
    disc_herniation, disc_narrowing, disc_bulging, pfirrmann_grade.
    """
    path = Path(root) / "radiological_gradings.csv"
    table = pd.read_csv(path, dtype={"Patient": str})
    missing = [column for column in SPIDER_GRADINGS if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: lacks the SPIDER columns {missing}; is this SPIDER's radiological_gradings.csv?")
    tidy = table[list(SPIDER_GRADINGS)].rename(columns=SPIDER_GRADINGS)
    tidy["patient_key"] = [patient_key(salt, "spider", subject.strip()) for subject in tidy["patient_key"]]
    return tidy
