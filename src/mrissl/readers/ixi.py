"""IXI (brain-development.org/ixi-dataset): ``IXI002-Guys-0828-{T1,T2,PD,MRA}.nii.gz``.

The name holds the patient (IXI002), the hospital (Guys, HH, IOP) and a scan number (0828,
the study). The files may sit in one folder or in one folder per modality, at any depth.
Labels: T1 -> T1, T2 -> T2, PD -> PD (proton density, not one of the nine seqclass classes),
MRA -> TOF (IXI's angiograms are time-of-flight). DTI files (``-DTI-00`` ... or one 4D file)
are quarantined: diffusion-tensor volumes are not a class of this reader.
The hospital gives the scanner, as the IXI site documents it; the hospital name is not kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from mrissl.readers.rows import Rejected, SeriesFile

IXI_FILE = re.compile(
    r"(?P<subject>IXI\d+)-(?P<site>[A-Za-z]+)-(?P<study>\d+)-(?P<modality>T1|T2|PD|MRA|DTI(?:-\d+)?)\.nii(?:\.gz)?"
)
IXI_LABELS = {"T1": "T1", "T2": "T2", "PD": "PD", "MRA": "TOF"}
# Hammersmith Hospital: Philips 3T; Guy's Hospital: Philips 1.5T; Institute of Psychiatry: GE 1.5T.
IXI_SCANNERS = {
    "HH": {"manufacturer": "Philips", "field_strength_t": 3.0},
    "Guys": {"manufacturer": "Philips", "field_strength_t": 1.5},
    "IOP": {"manufacturer": "GE", "field_strength_t": 1.5},
}


def find_ixi(root: Path) -> Iterator[SeriesFile | Rejected]:
    for image in sorted(root.rglob("IXI*.nii*")):
        match = IXI_FILE.fullmatch(image.name)
        if match is None:
            yield Rejected(image, "name is not IXI<number>-<site>-<number>-<T1|T2|PD|MRA>.nii.gz (IXI layout)")
        elif match["modality"].startswith("DTI"):
            yield Rejected(image, "DTI not read: diffusion-tensor volumes are no class of this reader")
        else:
            yield SeriesFile(
                image=image,
                subject=match["subject"],
                study=match["study"],
                label=IXI_LABELS[match["modality"]],
                description=match["modality"],
                acquisition=IXI_SCANNERS.get(match["site"], {}),
            )
