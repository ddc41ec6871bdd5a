"""Figures of the clip cohort and results: registration overlay, voxel sizes (paper 003 Fig. 2), report
lengths (Fig. 3), training and validation loss (Fig. 5), similarity matrix of one batch (Fig. 6) and rank
against similarity (Fig. 7). No SimpleITK here: the render rules run in the plot env."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.figure
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator
from scipy import ndimage

from mrissl.clip import CHANNEL_LABELS, CHANNELS, FIXED
from mrissl.clip.retrieval import class_match_view
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


def loss_curves_figure(metrics: pd.DataFrame) -> matplotlib.figure.Figure:
    """Training and validation loss per epoch, the best epoch marked, and log(batch) for chance (Fig. 5).

    ``metrics``: ``epoch``, ``train_loss``, ``val_loss``, ``logit_scale`` and a ``batch_size`` column or attribute.
    """
    fig, (ax, scale_ax) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [2, 1]})
    ax.plot(metrics["epoch"], metrics["train_loss"], label="training", color="C0")
    ax.plot(metrics["epoch"], metrics["val_loss"], label="validation", color="C1")
    best = metrics.loc[metrics["val_loss"].idxmin()]
    ax.axvline(best["epoch"], color="0.6", linestyle=":", label=f"best epoch ({int(best['epoch'])})")
    if "batch_size" in metrics:
        ax.axhline(np.log(metrics["batch_size"].iloc[0]), color="0.3", linestyle="--", linewidth=0.8,
                   label=f"chance, log {int(metrics['batch_size'].iloc[0])}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("symmetric InfoNCE")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, frameon=False)
    scale_ax.plot(metrics["epoch"], metrics["logit_scale"], color="C2")
    scale_ax.set_xlabel("epoch")
    scale_ax.set_ylabel("logit scale exp(s)")
    scale_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def similarity_matrix_figure(similarity: np.ndarray, classes: list[str]) -> matplotlib.figure.Figure:
    """Cosine similarity of the images (rows) and reports (columns) of one batch, classes on the axes (Fig. 6)."""
    n = len(similarity)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * n, 0.9 + 0.5 * n))
    image = ax.imshow(similarity, cmap="viridis", vmin=-1, vmax=1)
    labels = [f"{i}: {c}" for i, c in enumerate(classes)]
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel("report")
    ax.set_ylabel("image")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{similarity[i, j]:.2f}", ha="center", va="center", fontsize=5,
                    color="white" if similarity[i, j] < 0.3 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, label="cosine similarity")
    fig.tight_layout()
    return fig


def rank_similarity_figure(pairs: pd.DataFrame) -> matplotlib.figure.Figure:
    """Rank (among the other n - 1 images) against similarity of the same-class pairs, per class (Fig. 7).

    ``pairs`` as ``mrissl.clip.retrieval.class_match_view`` gives them.
    """
    same = pairs[pairs["same_class"]]
    n_others = int(pairs["rank"].max()) if len(pairs) else 1
    classes = sorted(pairs["query_class"].unique())
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, cls in enumerate(classes):
        part = same[same["query_class"] == cls]
        ax.scatter(part["rank"], part["similarity"], s=18, alpha=0.75, color=f"C{k}", label=f"{cls} ({len(part)})")
    ax.axvline((n_others + 1) / 2, color="0.5", linestyle=":", linewidth=0.8, label="chance mean rank")
    ax.set_xlabel(f"rank of the image among the other {n_others}")
    ax.set_ylabel("similarity to the query report")
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlim(0.5, n_others + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(title="class (same-class pairs)", fontsize=7, title_fontsize=8, frameon=False, loc="lower left")
    fig.tight_layout()
    return fig


def batch_similarity_figure(embeddings: dict[str, np.ndarray], index: pd.DataFrame) -> matplotlib.figure.Figure:
    """``similarity_matrix_figure`` of the training batch ``embed_test_set`` embedded (Fig. 6)."""
    classes = index.set_index("row").loc[embeddings["batch_rows"], "report_class"].fillna("unlabelled").tolist()
    return similarity_matrix_figure(embeddings["batch_image"] @ embeddings["batch_text"].T, classes)


def test_rank_similarity_figure(embeddings: dict[str, np.ndarray], index: pd.DataFrame) -> matplotlib.figure.Figure:
    """``rank_similarity_figure`` of the test split, report-derived classes (Fig. 7)."""
    classes = index.set_index("row").loc[embeddings["test_rows"], "report_class"].fillna("unlabelled").to_numpy()
    return rank_similarity_figure(class_match_view((embeddings["image"] @ embeddings["text"].T).T, classes))
