"""BraTS 2021 and BraTS 2023 (all sub-challenges) in their published folder layouts.

BraTS 2021: ``BraTS2021_00000/BraTS2021_00000_{t1,t1ce,t2,flair,seg}.nii.gz``.
BraTS 2023: ``BraTS-GLI-00000-000/BraTS-GLI-00000-000-{t1n,t1c,t2w,t2f,seg}.nii.gz``, the same for
PED, MEN, MET, SSA, ...; the 5-digit number is the patient (within its sub-challenge), the last
three digits the timepoint (study).

Labels: t1/t1n -> T1, t1ce/t1c -> T1CE (contrast-enhanced T1, not one of the nine seqclass
classes), t2/t2w -> T2, flair/t2f -> FLAIR. The seg is the mask of all four images of a folder;
folders without one (validation data) give rows without ``mask_path``. The folders may sit at
any depth under the root. A sequence missing from some folders is quarantined there ("missing
file"); one that no folder has (a release of FLAIR and seg only) is not part of the dataset.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from mrissl.readers.rows import SeriesFile

BRATS2021_FOLDER = re.compile(r"(?P<subject>BraTS2021_\d{5})")
BRATS2021_SEQUENCES = {"t1": "T1", "t1ce": "T1CE", "t2": "T2", "flair": "FLAIR"}
BRATS2023_FOLDER = re.compile(r"(?P<subject>BraTS-[A-Z]+-\d{5})-(?P<study>\d{3})")
BRATS2023_SEQUENCES = {"t1n": "T1", "t1c": "T1CE", "t2w": "T2", "t2f": "FLAIR"}


def find_brats(
    root: Path, folder_pattern: re.Pattern, separator: str, sequences: dict[str, str]
) -> Iterator[SeriesFile]:
    """One image per sequence of every BraTS case folder; a missing one is quarantined downstream.

    Sequences that no folder holds are left out rather than quarantined in every folder.
    """
    folders = sorted(p for p in root.rglob("BraTS*") if p.is_dir() and folder_pattern.fullmatch(p.name))
    released = {
        token: label for token, label in sequences.items()
        if any((folder / f"{folder.name}{separator}{token}.nii.gz").is_file() for folder in folders)
    }
    for folder in folders:
        match = folder_pattern.fullmatch(folder.name)
        seg = folder / f"{folder.name}{separator}seg.nii.gz"
        for token, label in released.items():
            yield SeriesFile(
                image=folder / f"{folder.name}{separator}{token}.nii.gz",
                subject=match["subject"],
                study=match.groupdict().get("study") or "",
                label=label,
                description=token,
                mask=seg if seg.is_file() else None,
            )


def find_brats2021(root: Path) -> Iterator[SeriesFile]:
    return find_brats(root, BRATS2021_FOLDER, "_", BRATS2021_SEQUENCES)


def find_brats2023(root: Path) -> Iterator[SeriesFile]:
    return find_brats(root, BRATS2023_FOLDER, "-", BRATS2023_SEQUENCES)
