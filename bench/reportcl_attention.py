"""Why the attention Dice of reportcl (paper 001, Tables 3-4) does or does not separate the inits.

    .venv/bin/python bench/reportcl_attention.py [--results results]

Reads a finished run's downstream attention maps and tumour masks and prints, per init and dataset:
the mean 3D Dice as the tables have it; the share of the volume the thresholded map covers
(threshold 0.01 on the min-max normalised map, the paper's); the Dice an all-ones map would get
(the floor a map covering everything reaches); the peak-to-mean ratio of the received attention
(1: uniform, every position attended alike); and the rank correlation, per case, between the
received attention of a grid cell and the tumour share of that cell (0: the map ignores the
tumour). Then, for each pretrained encoder, the attention block's gamma and how far its query/key
weights moved from their initialisation (relative Frobenius change): gamma scales every gradient
that reaches query and key, so a gamma near 0 leaves them where they started.
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


def tumour_share(masks: np.ndarray, grid: tuple[int, ...]) -> np.ndarray:
    """(N, D, H, W) masks -> (N, *grid) fraction of tumour voxels in each cell of the attention grid."""
    tumour = torch.as_tensor(np.asarray(masks) > 0, dtype=torch.float32)[:, None]
    return F.adaptive_avg_pool3d(tumour, grid)[:, 0].numpy()


def map_summary(maps: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    grid = maps.shape[1:]
    shares = tumour_share(masks, grid)
    coverage = [float((upsample_map(m, mask.shape) > THRESHOLD).mean()) for m, mask in zip(maps, masks)]
    floor = [dice(np.ones(mask.shape, bool), mask > 0) for mask in masks]
    correlations = [spearmanr(m.ravel(), s.ravel()).statistic for m, s in zip(maps, shares) if s.std() > 0]
    return {
        "dice_3d": attention_dice(maps, masks)["dice_3d"].mean(),
        "coverage": float(np.mean(coverage)),
        "all_ones_dice_3d": float(np.mean(floor)),
        "peak_to_mean": float(np.mean(maps.reshape(len(maps), -1).max(1) / maps.reshape(len(maps), -1).mean(1))),
        "spearman_tumour": float(np.nanmean(correlations)),
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
    rows = []
    for maps_path in sorted(root.glob("downstream/*/attention_maps.npz")):
        saved = np.load(maps_path)
        for dataset in ("internal", "external"):
            maps = saved[dataset] if dataset == "internal" else saved[dataset][0]   # external: fold 0's model
            cases = np.asarray(masks[dataset][saved[f"{dataset}_rows"]])
            rows.append({"init": maps_path.parent.name, "dataset": dataset, "n": len(maps), **map_summary(maps, cases)})
    pd.set_option("display.width", 160)
    print(pd.DataFrame(rows).round(4).to_string(index=False))

    init = torch.load(root / "init/medicalnet.pt", weights_only=True)
    drift = [{"encoder": p.parent.name, **attention_drift(torch.load(p, weights_only=True), init)}
             for p in sorted(root.glob("pretrain/*/encoder.pt"))]
    print("\nattention block of the pretrained encoders, against the MedicalNet(-like) init they start from")
    print(pd.DataFrame(drift).round(5).to_string(index=False))


if __name__ == "__main__":
    main()
