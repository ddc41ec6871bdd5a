"""BIDS raw datasets: ``sub-*/[ses-*/]anat/*_{T1w,T2w,FLAIR,PDw,T2starw}.nii[.gz]`` and 3D diffusion
trace images ``sub-*/[ses-*/]dwi/*_dwi.nii[.gz]``, with JSON sidecars.

Sidecars follow the BIDS inheritance principle: a ``.json`` in any folder from the dataset root
down to the image's folder applies when its suffix is the image's and its entities are a subset
of the image's (``T1w.json`` at the root, ``sub-01_T1w.json`` in ``sub-01/``, the image's own
sidecar); deeper and more specific files override. Only the acquisition fields below are
taken from them, never free text (names, institutions, dates, device serials).

Labels: T1w -> T1 (T1CE when the name has a ``ce-`` entity), T2w -> T2, FLAIR -> FLAIR,
PDw -> PD, T2starw -> GRE (the project's class of T2*-weighted gradient echo). A ``dwi`` image is
read when it is one 3D volume (a trace, as scanners export it; 4D series are quarantined): its
b-value comes from its ``.bval`` file (inherited like the sidecars) and goes to ``b_value``; it is
TraceW from b = 700 s/mm^2 up and DWI below (the seqclass classes: DWI holds b = 0-500, TraceW
b = 800-2000). The study is the session (``ses-``); a subject without sessions has one study.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

from mrissl.readers.rows import Rejected, SeriesFile, Unusable

BIDS_LABELS = {"T1w": "T1", "T2w": "T2", "FLAIR": "FLAIR", "PDw": "PD", "T2starw": "GRE"}
DWI_SUFFIX = "dwi"
TRACEW_MIN_B_VALUE = 700.0
# Sidecar field -> (manifest column, factor): BIDS times are in seconds, the manifest's in ms.
SIDECAR_NUMBERS = {
    "RepetitionTime": ("repetition_time_ms", 1000.0),
    "EchoTime": ("echo_time_ms", 1000.0),
    "InversionTime": ("inversion_time_ms", 1000.0),
    "FlipAngle": ("flip_angle_deg", 1.0),
    "MagneticFieldStrength": ("field_strength_t", 1.0),
}


def parse_bids_name(name: str) -> tuple[dict[str, str], str] | None:
    """``sub-01_ses-1_T1w.nii.gz`` -> ({"sub": "01", "ses": "1"}, "T1w"); None if not a BIDS name."""
    stem = name.split(".", 1)[0]
    *pairs, suffix = stem.split("_")
    if not all("-" in pair for pair in pairs):
        return None
    return dict(pair.split("-", 1) for pair in pairs), suffix


def inherited_files(image: Path, root: Path, entities: dict[str, str], suffix: str, extension: str) -> list[Path]:
    """The ``*<suffix><extension>`` files that apply to ``image``, least specific first (root down)."""
    found = []
    parts = image.parent.relative_to(root).parts
    for folder in (root.joinpath(*parts[:depth]) for depth in range(len(parts) + 1)):
        applicable = []
        for candidate in folder.glob(f"*{suffix}{extension}"):
            parsed = parse_bids_name(candidate.name)
            if parsed and parsed[1] == suffix and parsed[0].items() <= entities.items():
                applicable.append((len(parsed[0]), candidate))
        found += [candidate for _, candidate in sorted(applicable)]
    return found


def inherited_sidecar(image: Path, root: Path, entities: dict[str, str], suffix: str) -> dict:
    """The sidecar fields that apply to ``image``, merged from the root down (raises Unusable on bad JSON)."""
    merged: dict = {}
    for candidate in inherited_files(image, root, entities, suffix, ".json"):
        try:
            fields = json.loads(candidate.read_text(encoding="utf-8"))  # JSON is UTF-8 (RFC 8259)
        except ValueError as exc:  # UnicodeDecodeError is one too
            raise Unusable(f"sidecar is not valid JSON ({exc})", about=candidate) from exc
        if not isinstance(fields, dict):
            raise Unusable(f"sidecar is JSON but not an object of fields ({type(fields).__name__})",
                           about=candidate)
        merged |= fields
    return merged


def trace_b_value(image: Path, root: Path, entities: dict[str, str]) -> float:
    """The one b-value of a 3D diffusion trace, from its (inherited) ``.bval`` (raises Unusable)."""
    files = inherited_files(image, root, entities, DWI_SUFFIX, ".bval")
    if not files:
        raise Unusable("no .bval file; a BIDS dwi image needs one (one b-value for a 3D trace)")
    try:
        values = [float(v) for v in files[-1].read_text().split()]
    except ValueError as exc:
        raise Unusable(f".bval is not a list of numbers ({exc})", about=files[-1]) from exc
    if len(values) != 1:
        raise Unusable(f".bval lists {len(values)} b-values; only a 3D trace (one b-value) is read",
                       about=files[-1])
    return values[0]


def acquisition_fields(sidecar: dict) -> dict[str, object]:
    """The manifest's acquisition columns from a sidecar; nothing else is copied."""
    fields: dict[str, object] = {
        column: round(float(sidecar[key]) * factor, 6)
        for key, (column, factor) in SIDECAR_NUMBERS.items()
        if isinstance(sidecar.get(key), int | float)
    }
    if isinstance(sidecar.get("Manufacturer"), str):
        fields["manufacturer"] = sidecar["Manufacturer"]
    return fields


def find_bids(root: Path) -> Iterator[SeriesFile | Rejected]:
    images = sorted(chain.from_iterable(
        root.glob(pattern) for folder in ("anat", "dwi") for pattern in (f"sub-*/{folder}/*.nii*",
                                                                        f"sub-*/ses-*/{folder}/*.nii*")
    ))
    for image in images:
        parsed = parse_bids_name(image.name)
        folder_suffixes = BIDS_LABELS if image.parent.name == "anat" else (DWI_SUFFIX,)
        if parsed is None or parsed[1] not in folder_suffixes or "sub" not in parsed[0]:
            continue  # other suffixes (angio, defacemask, sbref, ...) are not read
        entities, suffix = parsed
        try:
            sidecar = inherited_sidecar(image, root, entities, suffix)
            acquisition = acquisition_fields(sidecar)
            if suffix == DWI_SUFFIX:
                acquisition["b_value"] = trace_b_value(image, root, entities)
        except Unusable as exc:
            yield Rejected(image, str(exc), about=exc.about)
            continue
        if suffix == DWI_SUFFIX:
            label = "TraceW" if acquisition["b_value"] >= TRACEW_MIN_B_VALUE else "DWI"
        else:
            label = "T1CE" if suffix == "T1w" and "ce" in entities else BIDS_LABELS[suffix]
        yield SeriesFile(
            image=image,
            subject=entities["sub"],
            study=entities.get("ses", ""),
            label=label,
            description=suffix,
            acquisition=acquisition,
        )
