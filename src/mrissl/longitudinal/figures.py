"""longitudinal figures: the VB/IVD montage (curated inputs), Fig. 6 (pair distances, ROC), Fig. 8
(learning curves of the grading classifier), the twins' distances and the training curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mrissl.longitudinal.vertebrae import IVD_LEVELS, VB_LEVELS, place_structure
from mrissl.manifest import canonical_spacing, load_canonical
from mrissl.figures import plt  # pyplot on the headless backend
from mrissl.readers.spider import SPIDER_VERTEBRA_LABELS
from mrissl.longitudinal.evaluate import pair_auc, pair_roc
from mrissl.longitudinal.pairs import RELATIONS


def montage_subject(index: pd.DataFrame) -> tuple[str, str, str]:
    """(subject_key, baseline scan_key, last follow-up scan_key) of the subject the montage shows:
    of those with a follow-up, the one whose disc grades rose most (ties: the smallest key)."""
    scans = index.drop_duplicates("scan_key")[["scan_key", "subject_key", "timepoint"]]
    followed = scans.groupby("subject_key")["timepoint"].max()
    followed = followed[followed > 0]
    if followed.empty:
        raise ValueError("no subject has a follow-up scan; the montage shows a baseline/follow-up pair")
    discs = index[index["kind"] == "IVD"]
    change = {}
    for subject in sorted(followed.index):
        of = discs[discs["subject_key"] == subject]
        first, last = of[of["timepoint"] == 0], of[of["timepoint"] == followed[subject]]
        merged = first.merge(last, on="level", suffixes=("_0", "_1"))
        change[subject] = int((merged["grade_1"].fillna(0) - merged["grade_0"].fillna(0)).sum())
    subject = max(sorted(change), key=lambda s: change[s])  # max keeps the first of equals
    of = scans[scans["subject_key"] == subject]
    return (subject, of.loc[of["timepoint"] == 0, "scan_key"].iloc[0],
            of.loc[of["timepoint"] == followed[subject], "scan_key"].iloc[0])


def mid_sagittal_slice(nifti_path: Path | str, mask_path: Path | str, label: int) -> np.ndarray:
    """The scan's sagittal slice through the middle of structure ``label``, superior up and anterior left."""
    volume, spacing = load_canonical(nifti_path), canonical_spacing(nifti_path)
    mask = load_canonical(mask_path, dtype=np.int16)
    placement = place_structure(mask, label, spacing)
    if placement is None:
        raise ValueError(f"{mask_path}: no structure labelled {label}")
    return volume[placement.mid_slice].T[::-1, ::-1]


def vertebrae_montage(vb: np.ndarray, ivd: np.ndarray, index: pd.DataFrame, scans: pd.DataFrame) -> plt.Figure:
    """One subject's extracted VBs and IVDs at baseline and at follow-up, each beside its scan.

    The subject is ``montage_subject``'s. Top half the baseline, bottom half the last follow-up:
    the scan's sagittal slice through L3 (``scans`` gives the paths; superior up, anterior left),
    then a row of VBs T12..S1 and a row of IVDs T12-L1..L5-S1 with their grades (``g``). Each crop
    shows its middle slice on one grey scale, 0 to 1.5 (the neighbouring VBs' median is 0.5).
    """
    subject, baseline, follow_up = montage_subject(index)
    by_scan = scans.set_index("scan_key")
    n_columns = len(VB_LEVELS)
    fig = plt.figure(figsize=(10.0, 5.6))
    grid = fig.add_gridspec(4, 1 + n_columns, width_ratios=[2.2] + [1.0] * n_columns, height_ratios=[1.0, 0.62] * 2,
                            left=0.02, right=0.99, top=0.9, bottom=0.02, wspace=0.12, hspace=0.4)
    for half, scan in enumerate((baseline, follow_up)):
        image = mid_sagittal_slice(by_scan.loc[scan, "nifti_path"], by_scan.loc[scan, "mask_path"],
                                   SPIDER_VERTEBRA_LABELS["L3"])
        ax = fig.add_subplot(grid[2 * half: 2 * half + 2, 0])
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=float(np.percentile(image, 99.5)))
        when = "baseline" if half == 0 else f"follow-up, +{by_scan.loc[scan, 'years_from_baseline']:.1f} y"
        ax.set_title(f"{when}, {by_scan.loc[scan, 'field_strength_t']:g} T", fontsize=8)
        ax.set_axis_off()
        for offset, (kind, levels, array) in enumerate((("VB", VB_LEVELS, vb), ("IVD", IVD_LEVELS, ivd))):
            of = index[(index["scan_key"] == scan) & (index["kind"] == kind)].set_index("level")
            for c, level in enumerate(levels):
                ax = fig.add_subplot(grid[2 * half + offset, 1 + c])
                ax.set_xticks([])
                ax.set_yticks([])
                if level not in of.index:
                    ax.text(0.5, 0.5, "absent", ha="center", va="center", fontsize=7, transform=ax.transAxes)
                    continue
                entry = of.loc[level]
                volume = np.asarray(array[int(entry["row"])], dtype=np.float32)
                ax.imshow(volume[:, :, volume.shape[2] // 2], cmap="gray", vmin=0.0, vmax=1.5)
                grade = entry["grade"]
                title = level if pd.isna(grade) else f"{level} g{int(grade)}"
                ax.set_title(f"{kind} {title}" if c == 0 else title, fontsize=7, pad=2)
    fig.suptitle(f"Extracted vertebral bodies (VB) and discs (IVD) of subject {subject[:8]}: baseline (top), "
                 f"follow-up (bottom)", fontsize=9)
    return fig


INIT_LABELS = {"scratch": "from scratch", "random": "frozen random conv", "longitudinal": "longitudinal pre-training",
               "supervised": "supervised pre-training (upper bound)"}
INITS = tuple(INIT_LABELS)   # as mrissl.longitudinal.grading.INITS (not imported: no torch in render rules)
RELATION_COLOURS = {"same subject": "tab:blue", "MZ twin": "tab:green", "DZ twin": "tab:orange", "unrelated": "tab:red"}


def fig6(distances: pd.DataFrame) -> plt.Figure:
    """Left: histogram of the test pairs' distances, positive in blue, negative in red; right: ROC."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.8))
    bins = np.linspace(0.0, float(distances["distance"].max()) * 1.02 + 1e-9, 40)
    for same, colour, label in ((1, "tab:blue", "positive (same subject)"), (0, "tab:red", "negative")):
        values = distances.loc[distances["same"] == same, "distance"]
        left.hist(values, bins=bins, color=colour, alpha=0.6, density=True, label=f"{label}, n={len(values)}")
    left.set_xlabel("L2 distance of FC7 embeddings")
    left.set_ylabel("density")
    left.legend(fontsize=8)
    left.set_title("Test VB pairs", fontsize=10)
    fpr, tpr = pair_roc(distances)
    right.plot(fpr, tpr, color="tab:blue", label=f"AUC {100 * pair_auc(distances):.1f}% (paper 94.6%)")
    right.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    right.set_xlabel("false positive rate")
    right.set_ylabel("true positive rate")
    right.set_title("Same subject vs different subjects", fontsize=10)
    right.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def fig8(results: pd.DataFrame) -> plt.Figure:
    """Average class accuracy against training scans, one line per initialisation."""
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    for init in INITS:
        of = results[results["init"] == init].sort_values("scans")
        if len(of):
            ax.plot(of["scans"], 100 * of["average_class_accuracy"], marker="o", label=INIT_LABELS[init])
    ax.set_xlabel("training scans")
    ax.set_ylabel("average class accuracy (%)")
    ax.set_title("Disc degeneration grading (test set)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def twins_figure(distances: pd.DataFrame) -> plt.Figure:
    """Distance distributions per relation: same subject across time, MZ and DZ twins, unrelated."""
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    present = [r for r in RELATIONS if (distances["relation"] == r).any()]
    data = [distances.loc[distances["relation"] == r, "distance"].to_numpy() for r in present]
    parts = ax.violinplot(data, showmedians=True)
    for body, relation in zip(parts["bodies"], present):
        body.set_facecolor(RELATION_COLOURS[relation])
        body.set_alpha(0.6)
    ax.set_xticks(range(1, len(present) + 1),
                  [f"{r}\n(n={len(d)})" for r, d in zip(present, data)], fontsize=8)
    ax.set_ylabel("L2 distance of FC7 embeddings")
    ax.set_title("Test VB pairs by relation of the two people", fontsize=10)
    fig.tight_layout()
    return fig


def loss_curves(siamese: pd.DataFrame, grading: pd.DataFrame) -> plt.Figure:
    """Siamese training and validation loss (and validation AUC); the grading runs' validation losses."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 3.8))
    left.plot(siamese["epoch"], siamese["loss"], label="train loss")
    left.plot(siamese["epoch"], siamese["val_loss"], label="validation loss")
    left.set_xlabel("epoch")
    left.set_ylabel("contrastive + level loss")
    twin = left.twinx()
    twin.plot(siamese["epoch"], siamese["val_auc"], color="tab:green", linestyle="--", label="validation AUC")
    twin.set_ylabel("validation AUC")
    handles = left.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    left.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="lower left")
    left.set_title("Siamese pretraining", fontsize=10)
    colours = {init: f"C{n}" for n, init in enumerate(INITS)}
    styles = {subset: style for subset, style in zip(sorted(grading["subset"].unique()), ("-", "--", ":", "-."))}
    for (init, subset), of in grading.groupby(["init", "subset"], sort=False):
        right.plot(of["epoch"], of["val_loss"], label=f"{init}, {subset} subjects", linewidth=1,
                   color=colours.get(init), linestyle=styles.get(subset, "-"))
    right.set_xlabel("epoch")
    right.set_ylabel("validation loss (class-balanced)")
    right.set_xscale("log")
    right.set_title("Grading classifiers", fontsize=10)
    right.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig
