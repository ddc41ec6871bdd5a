"""Attention Dice of known masks, the downstream schedule and the fold statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrissl.reportcl.downstream import DownstreamConfig, fold_metrics, lr_factor
from mrissl.reportcl.explain import attention_dice, dice, largest_slice, upsample_map
from mrissl.reportcl.stats import mean_std, paired_ttests


def test_dice_of_known_masks():
    a = np.zeros((4, 4, 4), bool)
    b = np.zeros((4, 4, 4), bool)
    a[:2] = True                 # 32 voxels
    b[1:3] = True                # 32 voxels, 16 shared
    assert dice(a, b) == pytest.approx(2 * 16 / 64)
    assert dice(a, a) == 1.0
    assert dice(a[..., 0], ~a[..., 0]) == 0.0


def test_attention_dice_thresholds_the_normalised_map():
    mask = np.zeros((8, 8, 4), np.uint8)
    mask[4:, 4:, 2] = 2          # tumour: one quadrant on slice 2 (largest cross-section)
    mask[5, 5, 1] = 4
    assert largest_slice(mask) == 2
    # attention on one corner of a 2x2x1 grid; upsampled (trilinear) and min-max normalised, its zero
    # corner stays below 0.01 only in the far quadrant
    grid = np.zeros((2, 2, 1), np.float32)
    grid[1, 1, 0] = 1.0
    heat = upsample_map(grid, mask.shape)
    assert heat.min() == 0.0 and heat.max() == 1.0
    binary = heat > 0.01
    scores = attention_dice(grid[None], mask[None])
    tumour = mask > 0
    assert scores["dice_3d"][0] == pytest.approx(2 * (binary & tumour).sum() / (binary.sum() + tumour.sum()))
    t2, b2 = tumour[..., 2], binary[..., 2]
    assert scores["dice_2d"][0] == pytest.approx(2 * (b2 & t2).sum() / (b2.sum() + t2.sum()))
    # a uniform map is all below threshold after normalisation (zeros): Dice 0
    assert attention_dice(np.ones((1, 2, 2, 1), np.float32), mask[None])["dice_3d"][0] == 0.0


def test_warm_up_then_step_schedule():
    c = DownstreamConfig(epochs=20, warmup_epochs=10, step_size=10, gamma=0.5)
    assert [lr_factor(e, c) for e in (1, 5, 10, 11, 20, 21, 31)] == [0.1, 0.5, 1.0, 1.0, 1.0, 0.5, 0.25]


def test_fold_metrics_with_v600e_positive():
    predictions = pd.DataFrame({
        "init": "x", "dataset": "internal", "fold": 0, "row": range(4), "patient_key": list("abcd"),
        "label": [1, 1, 0, 0], "probability": [0.9, 0.4, 0.6, 0.1],
    })
    m = fold_metrics(predictions).iloc[0]
    assert m["auc"] == pytest.approx(0.75)          # pairs (pos > neg): 0.9>0.6, 0.9>0.1, 0.4>0.1 of 4
    assert m["precision"] == pytest.approx(0.5) and m["recall"] == pytest.approx(0.5) and m["f1"] == pytest.approx(0.5)


def test_paired_ttest_over_folds_matches_hand_value():
    # differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1, t = 0.2 / (0.1 / sqrt 3) = 3.4641, p (2 df) = 0.0742
    per_fold = pd.DataFrame({
        "dataset": "external", "fold": [0, 1, 2] * 2, "init": ["cl"] * 3 + ["random"] * 3,
        "auc": [0.7, 0.8, 0.9, 0.6, 0.6, 0.6],
    })
    row = paired_ttests(per_fold, "cl", ["random"], ["auc"]).iloc[0]
    assert row["t"] == pytest.approx(3.4641, abs=1e-4)
    assert row["p"] == pytest.approx(0.0742, abs=1e-4)
    assert mean_std(pd.Series([0.1, 0.2, 0.3])) == "0.200 (0.100)"


def test_paired_ttest_is_left_out_when_the_differences_do_not_vary():
    per_fold = pd.DataFrame({
        "dataset": "internal", "fold": [0, 1] * 2, "init": ["cl"] * 2 + ["random"] * 2,
        "auc": [0.0, 0.0, 1.0, 1.0],                # both folds differ by -1: t would be -inf, p 0
    })
    row = paired_ttests(per_fold, "cl", ["random"], ["auc"]).iloc[0]
    assert row["mean_difference"] == pytest.approx(-1.0)
    assert np.isnan(row["t"]) and np.isnan(row["p"])
