"""Readers for real datasets: each walks one published layout and yields the manifest schema.

``read_dataset(source, root, salt, out_dir)`` returns ``(manifest, quarantine)`` with exactly
MANIFEST_COLUMNS and QUARANTINE_COLUMNS; images are placed under ``out_dir`` with salted names.
A reader in ``READERS`` only finds files (see each module for its layout and label mapping);
:func:`mrissl.readers.rows.build_manifest` reads, checks, places and keys them all alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from mrissl.readers.bids import find_bids
from mrissl.readers.brats import find_brats2021, find_brats2023
from mrissl.readers.ixi import find_ixi
from mrissl.readers.rows import Rejected, SeriesFile, build_manifest
from mrissl.readers.spider import find_spider, read_spider_gradings
from mrissl.readers.table import find_table

READERS: dict[str, Callable[[Path], Iterable[SeriesFile | Rejected]]] = {
    "brats2021": find_brats2021,
    "brats2023": find_brats2023,
    "spider": find_spider,
    "ixi": find_ixi,
    "bids": find_bids,
    "tsv": find_table,
}

__all__ = ["READERS", "read_dataset", "read_spider_gradings"]


def read_dataset(
    source: str, root: Path | str, salt: str, out_dir: Path | str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The manifest and quarantine tables of the dataset at ``root`` (a folder; for ``tsv`` the table file)."""
    if source not in READERS:
        raise ValueError(f"unknown dataset source {source!r}; data.source must be one of {sorted(READERS)}")
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such dataset; set data.root to the {source} folder")
    base = root.parent if root.is_file() else root
    manifest, quarantine = build_manifest(source, READERS[source](root), base, salt, Path(out_dir))
    if manifest.empty and quarantine.empty:
        raise ValueError(
            f"{root}: found no {source} images; check data.root and data.source "
            f"(the {source} layout is described in {READERS[source].__module__})"
        )
    return manifest, quarantine
