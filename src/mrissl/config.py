"""The one loader from a config section (a plain mapping) to a typed settings dataclass.

Every study and phantom keeps its settings in a dataclass; ``config_from_section`` builds it, so a
misspelt or missing key fails the same way everywhere, naming the section it came from.
"""

from __future__ import annotations

import dataclasses
import typing


def config_from_section(cls, section: dict, where: str, **fixed):
    """``cls(**section, **fixed)``: lists become tuples, a mapping given for a dataclass-typed field
    becomes that dataclass (recursively). A key ``cls`` does not know, or one it needs and neither
    ``section`` nor ``fixed`` gives, raises a ValueError naming ``where`` (e.g. "phantom.brain")."""
    fields = dataclasses.fields(cls)
    values = {**section, **fixed}
    unknown = sorted(set(values) - {f.name for f in fields})
    missing = sorted(f.name for f in fields if f.name not in values
                     and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    if unknown or missing:
        raise ValueError(f"{where} has unknown keys {unknown}, missing keys {missing}; "
                         f"known: {sorted(f.name for f in fields)}")
    types = typing.get_type_hints(cls)
    for name, value in values.items():
        if isinstance(value, list):
            values[name] = tuple(value)
        elif isinstance(value, dict) and dataclasses.is_dataclass(types[name]):
            values[name] = config_from_section(types[name], value, f"{where}.{name}")
    return cls(**values)
