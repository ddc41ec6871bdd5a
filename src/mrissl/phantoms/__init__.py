"""Synthetic raw data that looks like real exports: the embedded default cohorts.

``mr_physics`` (tissue parameters, signal equations), ``scanner`` (acquisition: geometry, resampling,
bias, noise, EPI effects, vendor scaling) and ``anatomy`` (the MNI152 head) are shared by every
cohort; ``dicom`` writes the series; ``brain`` is the multi-sequence brain cohort of paper 000.
"""

from __future__ import annotations

import dataclasses


def config_from_section(cls, section: dict, where: str):
    """``cls(**section)`` for a config section (lists become tuples); a key the dataclass does not know,
    or one it needs and ``section`` lacks, raises a ValueError naming ``where`` (e.g. "phantom.brain")."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
    fields = dataclasses.fields(cls)
    unknown = sorted(set(values) - {f.name for f in fields})
    missing = sorted(f.name for f in fields if f.name not in values
                     and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    if unknown or missing:
        raise ValueError(f"{where} has unknown keys {unknown}, missing keys {missing}; "
                         f"known: {sorted(f.name for f in fields)}")
    return cls(**values)
