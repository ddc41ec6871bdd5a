"""Attention-map explainability (paper 001, Tables 3-4 and Fig. 3).

The attention map of a volume is the self-attention each position of the last module receives,
averaged over the queries (``models.received_attention``), upsampled trilinearly to the volume,
min-max normalised to [0, 1] and thresholded at 0.01 (the paper's value). Its overlap with the
tumour mask is the Dice score (MONAI ``compute_dice``): 3D over the volume, 2D on the axial slice
with the largest tumour cross-section. The tumour is every labelled voxel of the segmentation
(BraTS-PEDs labels 2 solid, 3 cyst, 4 oedema: the whole tumour).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

THRESHOLD = 0.01


def upsample_map(attention: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(g1, g2, g3) attention grid -> min-max normalised (D, H, W) map in [0, 1]."""
    up = F.interpolate(torch.as_tensor(attention, dtype=torch.float32)[None, None], size=tuple(shape),
                       mode="trilinear", align_corners=False)[0, 0].numpy()
    lo, hi = float(up.min()), float(up.max())
    return (up - lo) / (hi - lo) if hi > lo else np.zeros_like(up)


def largest_slice(mask: np.ndarray) -> int:
    """The axial (last-axis) slice with the largest tumour cross-section."""
    return int((mask > 0).sum(axis=(0, 1)).argmax())


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two binary arrays of any dimension (MONAI ``compute_dice``, foreground only)."""
    from monai.metrics import compute_dice

    p = torch.as_tensor(np.asarray(prediction, bool))[None, None].float()
    t = torch.as_tensor(np.asarray(truth, bool))[None, None].float()
    return float(compute_dice(p, t, include_background=True, ignore_empty=False)[0, 0])


def attention_dice(maps: np.ndarray, masks: np.ndarray, threshold: float = THRESHOLD) -> pd.DataFrame:
    """Per case: ``dice_3d`` and ``dice_2d`` between thresholded attention maps (N, *grid) and tumour masks
    (N, D, H, W; any label > 0 is tumour)."""
    rows = []
    for attention, mask in zip(maps, masks):
        tumour = np.asarray(mask) > 0
        binary = upsample_map(attention, tumour.shape) > threshold
        z = largest_slice(tumour)
        rows.append({"dice_3d": dice(binary, tumour), "dice_2d": dice(binary[..., z], tumour[..., z])})
    return pd.DataFrame(rows, columns=["dice_3d", "dice_2d"])
