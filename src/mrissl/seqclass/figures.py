"""seqclass figures: the curation montage, Fig. 2 (latent maps), the confusion matrices, the
pretraining loss curves, Fig. 3 (external transfer) and the external sites' slices beside the
internal ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.figure
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from mrissl.figures import plt  # pyplot on the headless backend
from mrissl.seqclass import ordered_classes
from mrissl.seqclass.slices import read_slice_index


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


def montage_of_split(array_path: Path | str, index_path: Path | str, planes: Sequence[str]) -> matplotlib.figure.Figure:
    """``curation_montage`` of one split's slice array and index, classes in the paper's order."""
    index = read_slice_index(index_path)
    slices = np.load(array_path, mmap_mode="r")
    return curation_montage(slices, index, ordered_classes(index["label"]), planes)


def _middle_slices(slices: np.ndarray, index: pd.DataFrame, label: str, plane: str, n: int) -> list[np.ndarray]:
    """The middle kept slice in ``plane`` of the first ``n`` series (by key) of class ``label``."""
    of_class = index[(index["label"] == label) & (index["plane"] == plane)]
    chosen = []
    for _, rows in list(of_class.groupby("series_key", sort=True))[:n]:
        chosen.append(np.asarray(slices[int(rows["row"].iloc[len(rows) // 2])], dtype=np.float32))
    return chosen


def sites_figure(internal: tuple[np.ndarray, pd.DataFrame], sites: Mapping[str, tuple[np.ndarray, pd.DataFrame]],
                 classes: Mapping[str, Sequence[str]], plane: str = "axial", n: int = 4) -> matplotlib.figure.Figure:
    """For each site and site class (rows): ``n`` internal slices of the class, then ``n`` of the site's,
    each the middle ``plane`` slice of one series, as the models see them (curated, 0-1 scaled)."""
    pairs = [(site, label) for site in sites for label in classes[site]]
    fig, axes = plt.subplots(len(pairs), 2 * n, figsize=(1.2 * 2 * n, 1.3 * len(pairs) + 0.3), squeeze=False)
    for r, (site, label) in enumerate(pairs):
        images = (_middle_slices(*internal, label, plane, n) + [None] * n)[:n]
        images += (_middle_slices(*sites[site], label, plane, n) + [None] * n)[:n]
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if image is None:
                ax.text(0.5, 0.5, "none", ha="center", va="center", fontsize=7, transform=ax.transAxes)
            else:
                ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
            if r == 0:
                ax.set_title("internal" if c < n else "site", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{label}\n(internal)", fontsize=8)
            if c == n:
                ax.set_ylabel(f"{label}\n({site})", fontsize=8)
    fig.suptitle(f"External sites beside the internal cohort: middle {plane} slice of {n} test series per class",
                 fontsize=9)
    fig.tight_layout(pad=0.3, rect=(0.0, 0.0, 1.0, 0.95))
    return fig


def _summed_confusion(paths: Sequence[str]) -> pd.DataFrame:
    tables = [pd.read_csv(path, sep="\t", dtype={"fraction": str, "true": str}) for path in paths]
    return pd.concat(tables).groupby(["fraction", "true"], sort=False).sum()


def confusion_figure(rows: Mapping[str, Sequence[str]], fractions: Sequence[str]) -> matplotlib.figure.Figure:
    """Row-normalised test confusion matrices: one row per encoder (its confusion TSVs over seeds,
    counts summed), one column per label fraction."""
    models = {name: _summed_confusion(paths) for name, paths in rows.items()}
    fig, axes = plt.subplots(len(models), len(fractions), figsize=(2.2 * len(fractions) + 1.0, 2.5 * len(models)),
                             squeeze=False, layout="constrained")
    for r, (name, confusion) in enumerate(models.items()):
        for c, fraction in enumerate(fractions):
            counts = confusion.loc[fraction]
            classes = list(counts.columns)
            rates = counts.to_numpy(dtype=float) / np.maximum(counts.to_numpy().sum(axis=1, keepdims=True), 1)
            accuracy = np.trace(counts.to_numpy()) / counts.to_numpy().sum()
            ax = axes[r, c]
            image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=6)
            ax.set_yticks(range(len(classes)), list(counts.index) if c == 0 else [], fontsize=6)
            ax.set_title(f"{float(fraction) * 100:g}% labels: acc {accuracy:.3f}", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{name}\ntrue class", fontsize=8)
            if r == len(models) - 1:
                ax.set_xlabel("predicted", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label="fraction of the true class")
    return fig


def latent_figure(maps_path: Path | str, silhouette_path: Path | str, title: str) -> matplotlib.figure.Figure:
    """Fig. 2: t-SNE (top) and UMAP (bottom) of test embeddings at each stage, coloured by class, with
    the silhouette of the features."""
    maps = pd.read_csv(maps_path, sep="\t", dtype={"label": str})
    scores = pd.read_csv(silhouette_path, sep="\t").set_index("stage")["silhouette"]
    stages = list(scores.index)
    classes = ordered_classes(maps["label"])
    colours = dict(zip(classes, plt.get_cmap("tab10").colors))

    fig, axes = plt.subplots(2, len(stages), figsize=(2.3 * len(stages), 5.0), squeeze=False)
    for column, stage in enumerate(stages):
        of_stage = maps[maps["stage"] == stage]
        for row, method in enumerate(["tsne", "umap"]):
            ax = axes[row, column]
            for label in classes:
                points = of_stage[of_stage["label"] == label]
                ax.scatter(points[f"{method}_x"], points[f"{method}_y"], s=3, color=colours[label], label=label,
                           linewidths=0, rasterized=True)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{stage}\nsilhouette {scores[stage]:.2f}", fontsize=8)
            if column == 0:
                ax.set_ylabel({"tsne": "t-SNE", "umap": "UMAP"}[method], fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(classes), fontsize=8, markerscale=4, frameon=False)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97), pad=0.4)
    return fig


def transfer_figure(table_path: Path | str, classes: Mapping[str, Sequence[str]]) -> matplotlib.figure.Figure:
    """Fig. 3: accuracy on each external site's sequences per label fraction, one panel per site
    (``classes``: the site's classes, for its title), one line per scenario."""
    table = pd.read_csv(table_path)
    scenarios = [c for c in table.columns if c not in ("site", "fraction", "site images") and not c.endswith(" sd")]
    sites = list(dict.fromkeys(table["site"]))
    fig, axes = plt.subplots(1, len(sites), figsize=(4.2 * len(sites), 3.8), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, site in zip(axes[0], sites):
        rows = table[table["site"] == site]
        positions = range(len(rows))  # label fractions are spaced evenly, as the paper's axis
        for scenario, marker in zip(scenarios, "osD"):
            spread = rows[f"{scenario} sd"] if f"{scenario} sd" in rows else None  # over seeds, when several
            ax.errorbar(positions, rows[scenario], yerr=spread, marker=marker, capsize=3, label=scenario)
        ax.set_xticks(positions, [f"{f}\n({n:g})" for f, n in zip(rows["fraction"], rows["site images"])])
        ax.set_xlabel("labelled fraction for fine-tuning (site images in it)")
        ax.set_title(f"{site} ({', '.join(classes[site])})")
        ax.set_ylim(0.0, 1.0)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy on the site's sequences")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(scenarios), fontsize=8)
    return fig


def loss_curves_figure(metrics_paths: Sequence[str], runs: Sequence[str]) -> matplotlib.figure.Figure:
    """Pretraining loss per epoch of every run (one metrics CSV per path, ``runs`` naming each) and
    SimCLR's contrastive top-1 accuracy, mean over the paths that share a run (its seeds)."""
    metrics = pd.concat(pd.read_csv(path).assign(run=run) for path, run in zip(metrics_paths, runs))
    mean = metrics.groupby(["run", "epoch"], sort=False)[["loss", "contrastive_top1"]].mean().reset_index()
    panels = [("simclr", "loss", "SimCLR NT-Xent loss"), ("simsiam", "loss", "SimSiam loss (-cosine)"),
              ("simclr", "contrastive_top1", "SimCLR contrastive top-1 accuracy")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (method, column, title) in zip(axes[0], panels):
        for run, curve in mean[mean["run"].str.startswith(method + "_")].groupby("run", sort=False):
            ax.plot(curve["epoch"], curve[column], marker="o", markersize=3, label=run.removeprefix(method + "_"))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=7, title="batch_px", title_fontsize=7)
    fig.tight_layout()
    return fig
