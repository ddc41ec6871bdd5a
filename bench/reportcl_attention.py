"""Why the attention Dice of reportcl (paper 001, Tables 3-4) does or does not separate the inits.

    .venv/bin/python bench/reportcl_attention.py [--results results]

Reads a finished run's downstream attention maps and tumour masks and prints, per init and dataset:
the mean 3D Dice as the tables have it; the share of the volume the thresholded map covers
(threshold 0.01 on the min-max normalised map, the paper's); the Dice an all-ones map would get
(the floor a map covering everything reaches); the peak-to-mean ratio of the received attention
(1: uniform, every position attended alike); and the rank correlation, per case, between the
received attention of a grid cell and the tumour share of that cell (0: the map ignores the
tumour), and the same with the cell's mean FLAIR intensity (what the map follows instead).
Last, where the maps peak: the share of cases whose peak is the init's commonest peak cell (high:
the map marks a fixed place, not the case's tumour) and the share of attention on the grid's border
cells (beside the border's share of the cells, printed in the header).
Then, for each pretrained encoder, the attention block's gamma and how far its query/key/value
weights moved from their initialisation (relative Frobenius change): the block adds gamma times its
output to the features, so while gamma stays near 0 the loss hardly depends on where it attends
(AdamW still moves the weights: it normalises the step, not the signal).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from mrissl.reportcl.explain import THRESHOLD, attention_dice, dice, upsample_map


def cell_means(volumes: np.ndarray, grid: tuple[int, ...]) -> np.ndarray:
    """(N, D, H, W) -> (N, *grid) mean of each cell of the attention grid."""
    return F.adaptive_avg_pool3d(torch.as_tensor(np.asarray(volumes), dtype=torch.float32)[:, None], grid)[:, 0].numpy()


def mean_spearman(maps: np.ndarray, cells: np.ndarray) -> float:
    return float(np.nanmean([spearmanr(m.ravel(), c.ravel()).statistic for m, c in zip(maps, cells) if c.std() > 0]))


def border_cells(grid: tuple[int, ...]) -> np.ndarray:
    border = np.zeros(grid, bool)
    for axis in range(len(grid)):
        index = [slice(None)] * len(grid)
        index[axis] = [0, -1]
        border[tuple(index)] = True
    return border


def map_summary(maps: np.ndarray, masks: np.ndarray, images: np.ndarray) -> dict[str, float]:
    grid = maps.shape[1:]
    flat = maps.reshape(len(maps), -1)
    coverage = [float((upsample_map(m, mask.shape) > THRESHOLD).mean()) for m, mask in zip(maps, masks)]
    floor = [dice(np.ones(mask.shape, bool), mask > 0) for mask in masks]
    return {
        "dice_3d": attention_dice(maps, masks)["dice_3d"].mean(),
        "coverage": float(np.mean(coverage)),
        "all_ones_dice_3d": float(np.mean(floor)),
        "peak_to_mean": float(np.mean(flat.max(axis=1) / flat.mean(axis=1))),
        "spearman_tumour": mean_spearman(maps, cell_means(masks > 0, grid)),
        "spearman_intensity": mean_spearman(maps, cell_means(images, grid)),
        "commonest_peak_share": float(np.unique(flat.argmax(axis=1), return_counts=True)[1].max() / len(maps)),
        "border_attention": float((flat * border_cells(grid).ravel()).sum(axis=1).mean() / flat.sum(axis=1).mean()),
    }


def attention_drift(encoder: dict, init: dict) -> dict[str, float]:
    drift = {"gamma": float(encoder["attention.gamma"])}
    for part in ("query", "key", "value"):
        name = f"attention.{part}.weight"
        drift[f"{part}_change"] = float((encoder[name] - init[name]).norm() / init[name].norm())
    return drift


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args()
    root = args.results / "reportcl"
    masks = {cohort: np.load(root / f"tumour_{cohort}/masks.npy", mmap_mode="r") for cohort in ("internal", "external")}
    images = {cohort: np.load(root / f"tumour_{cohort}/images.npy", mmap_mode="r") for cohort in ("internal", "external")}
    rows = []
    for maps_path in sorted(root.glob("downstream/*/attention_maps.npz")):
        saved = np.load(maps_path)
        for dataset in ("internal", "external"):
            maps = saved[dataset] if dataset == "internal" else saved[dataset][0]   # external: fold 0's model
            cases = saved[f"{dataset}_rows"]
            rows.append({"init": maps_path.parent.name, "dataset": dataset, "n": len(maps),
                         **map_summary(maps, np.asarray(masks[dataset][cases]), np.asarray(images[dataset][cases]))})
    pd.set_option("display.width", 200)
    grid = saved["internal"].shape[1:]
    print(f"attention grid {grid}: {border_cells(grid).mean():.2f} of its cells on the border")
    print(pd.DataFrame(rows).round(4).to_string(index=False))

    init = torch.load(root / "init/medicalnet.pt", weights_only=True)
    drift = [{"encoder": p.parent.name, **attention_drift(torch.load(p, weights_only=True), init)}
             for p in sorted(root.glob("pretrain/*/encoder.pt"))]
    print("\nattention block of the pretrained encoders, against the MedicalNet(-like) init they start from")
    print(pd.DataFrame(drift).round(5).to_string(index=False))


if __name__ == "__main__":
    main()
