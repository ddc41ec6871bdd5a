"""Shared figure helpers: a headless backend and one byte-stable saver.

Matplotlib writes its version and a timestamp into PNG/PDF/SVG metadata by default; ``save_figure``
drops them (and fixes the dpi and SVG hash salt), so the same figure gives byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: cluster nodes and CI have no display

import matplotlib.pyplot as plt  # noqa: E402

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
