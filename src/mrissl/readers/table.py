"""A plain dataset table written by a user: one row per NIfTI image.

Tab-separated, with the columns ``subject`` and ``path`` (a 3D NIfTI) and, optionally,
``label`` (the class, e.g. T1, FLAIR), ``session`` (the study), ``mask`` (a segmentation on the
image's grid) and ``group`` (family or twin group: patients of one group share a split).
Relative paths are relative to the table's folder. The root of this reader is the table file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from mrissl.readers.rows import Rejected, SeriesFile

REQUIRED_COLUMNS = ["subject", "path"]
OPTIONAL_COLUMNS = ["label", "session", "mask", "group"]


def find_table(table_path: Path) -> Iterator[SeriesFile | Rejected]:
    table = pd.read_csv(table_path, sep="\t", dtype=str, keep_default_na=False)
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(
            f"{table_path}: lacks the columns {missing}; a dataset table needs {REQUIRED_COLUMNS} "
            f"and may have {OPTIONAL_COLUMNS}, tab-separated"
        )
    table = table.reindex(columns=REQUIRED_COLUMNS + OPTIONAL_COLUMNS, fill_value="")
    folder = table_path.parent
    for line, row in enumerate(table.itertuples(index=False), start=2):  # line 1 is the header
        subject, path, mask = row.subject.strip(), row.path.strip(), row.mask.strip()
        if not subject or not path:
            yield Rejected(table_path, f"line {line}: subject and path are required")
            continue
        yield SeriesFile(
            image=folder / path,  # an absolute path stays absolute
            subject=subject,
            study=row.session.strip(),
            label=row.label.strip() or None,
            mask=folder / mask if mask else None,
            group=row.group.strip(),
        )
