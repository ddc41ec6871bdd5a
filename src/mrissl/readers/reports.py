"""Radiology reports: a hospital's side table of free text, one report per row, in any encoding.

The table is tab-separated: key columns (reportcl: ``subject``; clip: ``subject``, ``session``)
and ``report``. Reports saved in another encoding than UTF-8 are decoded and kept
(:func:`mrissl.readers.text.decode_text`); a row that is not text, or whose report is empty, goes
to the quarantine with a reason naming the reports table and the row (rows count from 1 below the
header); so does the whole file when it is not a table at all. As the dataset readers do, the
quarantine names the file by its ``file_key`` (of its name) and the reason names it by its role:
its path is the rule's input, and a file name chosen at a site may name a patient.

Each cell is decoded on its own, so an export stitched together from two systems (most rows UTF-8,
a few Windows-1252) keeps every row's letters. To cut the rows apart before decoding, the table is
parsed as ISO-8859-1, which maps each byte to one character and back: a cell's own bytes are
``cell.encode("latin-1")``. A file with a byte-order mark (UTF-16, UTF-32) is decoded whole first.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mrissl.manifest import QUARANTINE_COLUMNS, file_key
from mrissl.readers.text import BYTE_ORDER_MARKS, UndecodableText, decode_text

REPORT_COLUMN = "report"

log = logging.getLogger(__name__)


def read_reports(path: Path | str, key_columns: Sequence[str], salt: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The usable reports of the TSV at ``path`` and the quarantine rows of the others.

    The reports table has ``key_columns`` and ``report``, all strings, in the file's order; the
    quarantine has QUARANTINE_COLUMNS. A table without those columns is an error, not bad input.
    """
    path = Path(path)
    columns = [*key_columns, REPORT_COLUMN]
    key = file_key(salt, path.name)
    reports, quarantined = [], []
    try:
        table = read_cells(path.read_bytes())
    except (UndecodableText, pd.errors.ParserError) as exc:
        quarantined.append({"file_key": key, "reason": f"reports table not readable: {exc}"})
        table = pd.DataFrame(columns=columns)
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: the reports table lacks columns {missing}; "
                         f"it needs {columns}, tab-separated, one report per row")
    for row, cells in enumerate(table[columns].itertuples(index=False), start=1):
        try:
            values = [decode_text(cell.encode("latin-1")) for cell in cells]
        except UndecodableText as exc:
            quarantined.append({"file_key": key, "reason": f"reports table row {row}: {exc}"})
            continue
        if not values[-1].strip():
            quarantined.append({"file_key": key, "reason": f"reports table row {row}: empty report"})
            continue
        reports.append(values)
    for entry in quarantined:
        log.warning("quarantined file %s: %s", entry["file_key"], entry["reason"])
    return pd.DataFrame(reports, columns=columns), pd.DataFrame(quarantined, columns=QUARANTINE_COLUMNS)


def read_cells(data: bytes) -> pd.DataFrame:
    """The TSV in ``data`` with decoded column names and undecoded cells (one character per byte).

    Raises :class:`UndecodableText` for an empty file, a byte-order mark that does not fit the
    bytes, or a header that is not text; ``pandas.errors.ParserError`` for rows of unequal length.
    """
    if not data.strip():
        raise UndecodableText("empty file")
    if data.startswith(tuple(mark for mark, _, _ in BYTE_ORDER_MARKS)):
        data = decode_text(data).encode("utf-8")
    cells = pd.read_csv(io.BytesIO(data), sep="\t", dtype=str, keep_default_na=False, encoding="latin-1")
    return cells.rename(columns=lambda name: decode_text(name.encode("latin-1")))
