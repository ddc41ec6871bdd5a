"""Figures of the clip cohort: registration overlay, voxel sizes (paper 003 Fig. 2), report lengths (Fig. 3)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.figure
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator
from scipy import ndimage

from mrissl.clip.registration import CHANNEL_LABELS, CHANNELS, FIXED
from mrissl.figures import plt  # pyplot on the headless backend

# Edge colours of the moving sequences over the grey FLAIR.
EDGE_COLOURS = {"DWI": "#00d5ff", "T2star": "#ff3da8"}
SEQUENCE_NAMES = {"DWI": "DWI b1000", "T2star": "T2*", "FLAIR": "FLAIR"}
EDGE_LEVEL = 0.35  # of a channel's 99th percentile: the head outline and the ventricles' walls


def registration_overlay(preview: Mapping[str, np.ndarray], slices: tuple[float, ...] = (0.45, 0.65)
                         ) -> matplotlib.figure.Figure:
    """FLAIR in grey with the DWI and T2* edges in colour, before and after registration.

    ``preview`` holds ``<study_key>_before`` and ``<study_key>_after`` volumes (channel, x, y, z);
    one row per study, and for each of ``slices`` (fractions of the slab) a before and an after panel.
    """
    studies = sorted({key.rsplit("_", 1)[0] for key in preview})
    size = (2.4 * 2 * len(slices), 2.7 * len(studies) + 0.4)
    fig, axes = plt.subplots(len(studies), 2 * len(slices), figsize=size, squeeze=False)
    for r, study in enumerate(studies):
        for s, fraction in enumerate(slices):
            for c, stage in enumerate(("before", "after")):
                volume = preview[f"{study}_{stage}"]
                z = int(round(fraction * (volume.shape[-1] - 1)))
                ax = axes[r, 2 * s + c]
                # Arrays are (x, y, z) in LPS: transposed, x runs left to right as patient R -> L (radiological).
                ax.imshow(volume[CHANNELS.index(FIXED), :, :, z].T, cmap="gray", vmin=0.0, vmax=1.2)
                for name, colour in EDGE_COLOURS.items():
                    smooth = ndimage.gaussian_filter(volume[CHANNELS.index(name), :, :, z], 1.0)
                    ax.contour(smooth.T, levels=[EDGE_LEVEL], colors=colour, linewidths=0.7)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"{stage}, slice {z}", fontsize=8)
                if 2 * s + c == 0:
                    ax.set_ylabel(f"study {study[:8]}", fontsize=8)
    handles = [plt.Line2D([], [], color=colour, label=f"{SEQUENCE_NAMES[name]} edges")
               for name, colour in EDGE_COLOURS.items()]
    fig.legend(handles=handles + [plt.Rectangle((0, 0), 1, 1, color="0.6", label="FLAIR (reference)")],
               loc="upper center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()), pad=0.4)
    return fig


def voxel_size_figure(manifest: pd.DataFrame) -> matplotlib.figure.Figure:
    """Histograms of the voxel size along each image dimension, per sequence (paper 003, Fig. 2)."""
    rows = manifest[manifest["label"].isin(CHANNEL_LABELS.values())]
    spacing = rows["spacing_mm"].str.split(",", expand=True).astype(float)
    by_label = {label: name for name, label in CHANNEL_LABELS.items()}
    fig, axes = plt.subplots(1, 3, figsize=(10, 3), sharey=True)
    for d, ax in enumerate(axes):
        values = spacing[d]
        bins = np.linspace(np.floor(values.min() * 2) / 2, np.ceil(values.max() * 2) / 2 + 0.25, 20)
        data = [values[rows["label"] == label] for label in CHANNEL_LABELS.values()]
        ax.hist(data, bins=bins, stacked=True, label=[SEQUENCE_NAMES[by_label[lab]] for lab in CHANNEL_LABELS.values()])
        ax.set_xlabel(f"voxel size, dimension {d + 1} (mm)")
    axes[0].set_ylabel("series")
    axes[0].yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def report_length_figure(index: pd.DataFrame) -> matplotlib.figure.Figure:
    """Histogram of report lengths in characters, stacked by report-derived class (paper 003, Fig. 3)."""
    lengths = index["report"].str.len()
    classes = sorted(index["report_class"].fillna("unlabelled").unique())
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bins = np.linspace(0, lengths.max() + 10, 25)
    ax.hist([lengths[index["report_class"].fillna("unlabelled") == c] for c in classes], bins=bins, stacked=True,
            label=classes)
    ax.set_xlabel("report length (characters)")
    ax.set_ylabel("studies")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(title="report-derived class", fontsize=8, title_fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
