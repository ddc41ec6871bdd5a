"""Shared figure helpers: a headless backend, one byte-stable saver, and the curation montage.

Matplotlib writes its version and a timestamp into PNG/PDF/SVG metadata by default; ``save_figure``
drops them (and fixes the dpi and SVG hash salt), so the same figure gives byte-identical files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: cluster nodes and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FIGURE_DPI = 150
STABLE_METADATA = {
    ".png": {"Software": None},
    ".pdf": {"Creator": None, "Producer": None, "CreationDate": None},
    ".svg": {"Creator": None, "Date": None},
}
plt.rcParams["svg.hashsalt"] = "mrissl"


def save_figure(fig: matplotlib.figure.Figure, path: Path | str) -> Path:
    """Save ``fig`` to ``path`` (.png, .pdf or .svg) reproducibly at ``FIGURE_DPI``, then close it."""
    path = Path(path)
    if path.suffix not in STABLE_METADATA:
        raise ValueError(f"{path}: figures are written as {sorted(STABLE_METADATA)}, not {path.suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=FIGURE_DPI, metadata=STABLE_METADATA[path.suffix])
    plt.close(fig)
    return path


def curation_montage(
    slices: np.ndarray, index: pd.DataFrame, classes: Sequence[str], planes: Sequence[str]
) -> matplotlib.figure.Figure:
    """One slice per class (rows) and plane (columns) from a split's slice array and its index.

    For each class the series with the smallest key that has slices is shown, the middle one of its
    kept slices in each plane; a class without slices gets an empty row saying so.
    """
    fig, axes = plt.subplots(
        len(classes), len(planes), figsize=(1.5 * len(planes) + 0.6, 1.5 * len(classes)), squeeze=False
    )
    for r, label in enumerate(classes):
        of_class = index[index["label"] == label]
        series_key = of_class["series_key"].min() if len(of_class) else None
        for c, plane in enumerate(planes):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            rows = of_class.loc[(of_class["series_key"] == series_key) & (of_class["plane"] == plane), "row"]
            if len(rows):
                middle = int(rows.iloc[len(rows) // 2])
                ax.imshow(np.asarray(slices[middle], dtype=np.float32), cmap="gray", vmin=0.0, vmax=1.0)
            else:
                ax.text(0.5, 0.5, "no slices", ha="center", va="center", fontsize=7, transform=ax.transAxes)
            if r == 0:
                ax.set_title(plane, fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.tight_layout(pad=0.3)
    return fig
