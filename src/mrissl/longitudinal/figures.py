"""Figures of the longitudinal spine cohort: one subject's vertebrae and discs, baseline and follow-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mrissl.longitudinal.vertebrae import IVD_LEVELS, VB_LEVELS, place_structure
from mrissl.manifest import canonical_spacing, load_canonical
from mrissl.figures import plt  # pyplot on the headless backend
from mrissl.readers.spider import SPIDER_VERTEBRA_LABELS


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
