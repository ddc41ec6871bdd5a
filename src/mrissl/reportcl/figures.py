"""reportcl figures: the cohort montage and report lengths (curated inputs), the attention maps
(paper Fig. 3) and the pretraining loss curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import zip_longest

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from mrissl.figures import plt  # pyplot on the headless backend
from mrissl.reportcl.explain import THRESHOLD, largest_slice, upsample_map
from mrissl.vocabulary import LOCATIONS, MARKER_NAMES, MARKERS

CORE_LABELS = (1, 2, 3)  # BraTS-PEDs enhancing, non-enhancing, cystic; 4 is oedema
BLACK_BACKGROUND_GRAY = plt.get_cmap("gray").with_extremes(bad="black")


def _cases_by_location(index: pd.DataFrame, per_location: int) -> dict[str, pd.DataFrame]:
    """Up to ``per_location`` rows of each location, taking markers in turn (lowest rows first)."""
    chosen = {}
    for location in LOCATIONS:
        here = index[index["location"] == location].sort_values("row")
        queues = [here[here["marker"] == m] for m in MARKERS]
        picked = []
        for turn in range(per_location):
            for queue in queues:
                if turn < len(queue) and len(picked) < per_location:
                    picked.append(queue.iloc[turn])
        chosen[location] = pd.DataFrame(picked)
    return chosen


def tumour_montage(
    sets: Sequence[tuple[str, np.ndarray, np.ndarray, pd.DataFrame]], per_location: int = 6
) -> plt.Figure:
    """Axial slices through each tumour's largest cross-section with mask outlines, one row per location.

    ``sets`` are (name, images, masks, index) of preprocessed cohorts (canonical RAS arrays); a row
    takes cases of the sets in turn, and of the markers in turn within a set. Red outlines the tumour
    core (solid and cystic parts), yellow the oedema. Slices are shown radiologically (patient's right
    on the left, anterior up).
    """
    picked = [(name, images, masks, _cases_by_location(index, per_location)) for name, images, masks, index in sets]
    columns = []
    for location in LOCATIONS:  # the sets take turns, so scanners can be compared side by side
        per_set = [[(name, images, masks, case) for _, case in by_location[location].iterrows()]
                   for name, images, masks, by_location in picked]
        turns = [case for group in zip_longest(*per_set) for case in group if case is not None]
        columns.append(turns[:per_location])
    size = (1.7 * per_location + 0.6, 2.1 * len(LOCATIONS) + 0.3)
    fig, axes = plt.subplots(len(LOCATIONS), per_location, figsize=size, squeeze=False)
    for r, (location, cases) in enumerate(zip(LOCATIONS, columns)):
        for c in range(per_location):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(location, fontsize=9)
            if c >= len(cases):
                ax.text(0.5, 0.5, "no case", ha="center", va="center", fontsize=7, transform=ax.transAxes)
                continue
            name, images, masks, case = cases[c]
            mask = np.asarray(masks[int(case["row"])])
            core = np.isin(mask, CORE_LABELS)
            z = int(np.argmax(core.sum(axis=(0, 1)))) if core.any() else mask.shape[2] // 2
            image = np.asarray(images[int(case["row"])][:, :, z], dtype=np.float32)
            brain = image[image != 0]
            low, high = np.percentile(brain, (1, 99)) if brain.size else (0.0, 1.0)
            # RAS array: transpose puts y (anterior) up; flipping x puts the patient's right on the left.
            shown = np.ma.masked_equal(image.T[::-1, ::-1], 0.0)  # skull-stripped background in black
            ax.imshow(shown, cmap=BLACK_BACKGROUND_GRAY, vmin=low, vmax=high, interpolation="nearest")
            for outline, colour in ((core[:, :, z], "red"), (mask[:, :, z] == 4, "yellow")):
                if outline.any():
                    ax.contour(outline.T[::-1, ::-1].astype(float), levels=[0.5], colors=colour, linewidths=0.7)
            ax.set_title(f"{MARKER_NAMES[case['marker']]} ({name})", fontsize=6.5)
    fig.suptitle("FLAIR with tumour core (red) and oedema (yellow) outlines, by tumour location", fontsize=9)
    fig.tight_layout(pad=0.4, rect=(0.0, 0.0, 1.0, 0.95))
    return fig


def report_length_figure(reports: pd.DataFrame, max_length: int, encoder: str) -> plt.Figure:
    """Histograms of cleaned report lengths in words and in ``encoder`` tokens, with the truncation length."""
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.0))
    for ax, column, unit in ((axes[0], "n_words", "words"), (axes[1], "n_tokens", f"tokens ({encoder})")):
        values = reports[column].to_numpy()
        ax.hist(values, bins=min(30, max(5, len(values) // 3)), color="steelblue", edgecolor="white")
        ax.set_xlabel(f"cleaned report length, {unit}", fontsize=8)
        ax.set_ylabel("reports", fontsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
    truncated = int((reports["n_tokens"] > max_length).sum())
    axes[1].axvline(max_length, color="darkred", linestyle="--", linewidth=1)
    axes[1].text(0.98, 0.95, f"max_length {max_length}\n{truncated} of {len(reports)} truncated",
                 transform=axes[1].transAxes, ha="right", va="top", fontsize=7, color="darkred")
    fig.suptitle(f"Radiology reports after cleaning (n = {len(reports)})", fontsize=9)
    fig.tight_layout()
    return fig


def attention_figure(cases: list[dict], init_labels: Mapping[str, str]) -> plt.Figure:
    """Fig. 3: per case (dict with ``title``, ``image``, ``mask`` volumes and ``maps``: init -> attention
    grid), one row per init: FLAIR slice with the largest tumour cross-section, the mask, the
    normalised attention map and the FLAIR with the map overlaid (contour: the map above the 0.01
    threshold)."""
    n_rows = len(cases) * len(init_labels)
    fig, axes = plt.subplots(n_rows, 4, figsize=(8, 2.1 * n_rows), squeeze=False)
    r = 0
    for case in cases:
        image, mask = np.asarray(case["image"], np.float32), np.asarray(case["mask"]) > 0
        z = largest_slice(mask)
        for init, label in init_labels.items():
            heat = upsample_map(case["maps"][init], mask.shape)[..., z]
            flair = np.rot90(image[..., z])
            ax = axes[r]
            ax[0].imshow(flair, cmap="gray")
            ax[1].imshow(np.rot90(mask[..., z]), cmap="gray")
            ax[2].imshow(np.rot90(heat), cmap="jet", vmin=0, vmax=1)
            ax[3].imshow(flair, cmap="gray")
            ax[3].imshow(np.rot90(heat), cmap="jet", alpha=0.4, vmin=0, vmax=1)
            ax[3].contour(np.rot90(mask[..., z]).astype(float), levels=[0.5], colors="white", linewidths=0.6)
            ax[0].set_ylabel(f"{case['title']}\n{label}", fontsize=7)
            for a in ax:
                a.set_xticks([])
                a.set_yticks([])
            r += 1
    for a, title in zip(axes[0], ("FLAIR", "tumour mask", f"attention (>{THRESHOLD} binarised for Dice)", "overlay")):
        a.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def loss_curves(metrics: Mapping[str, pd.DataFrame], segmentation: pd.DataFrame | None = None) -> plt.Figure:
    """Pretraining loss per epoch of each variant (total, global, local) and the MedicalNet-like
    segmentation pretraining's loss."""
    n = 4 if segmentation is not None else 3
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.2))
    for name, frame in metrics.items():
        for ax, column in zip(axes, ("loss", "global", "local")):
            if frame[column].notna().any():
                ax.plot(frame["epoch"], frame[column], label=name, lw=1.2 if name == "proposed" else 0.8)
    for ax, title in zip(axes, ("total (Eq. 3)", "global (Eq. 1)", "local (Eq. 2)")):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=6)
    if segmentation is not None:
        axes[3].plot(segmentation["epoch"], segmentation["loss"], color="k", label="cross-entropy")
        axes[3].plot(segmentation["epoch"], segmentation["dice"], color="C3", label="Dice")
        axes[3].set_title("MedicalNet-like segmentation", fontsize=9)
        axes[3].set_xlabel("epoch")
        axes[3].legend(fontsize=6)
    fig.tight_layout()
    return fig
