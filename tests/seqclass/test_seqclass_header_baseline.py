"""Header-only baseline: learns classes from header fields, scores per series and per slice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrissl.seqclass.header_baseline import header_baseline
from mrissl.manifest import MANIFEST_COLUMNS

# class: description, scanning sequence, image type, TR, TE, TI, flip, b (NaN = absent)
RECIPES = {
    "T1": ("t1_se_tra", "SE", "ORIGINAL\\PRIMARY\\M", 500, 10, np.nan, 90, np.nan),
    "T2": ("t2_tse_tra", "SE", "ORIGINAL\\PRIMARY\\M", 4000, 100, np.nan, 150, np.nan),
    "FLAIR": ("t2_flair_tra", "SE\\IR", "ORIGINAL\\PRIMARY\\M", 9000, 120, 2500, 150, np.nan),
    "TOF": ("tof_3d_multi-slab", "GR", "ORIGINAL\\PRIMARY\\M", 25, 3.5, np.nan, 20, np.nan),
    "TraceW": ("ep2d_diff_tra_TRACEW", "EP", "ORIGINAL\\PRIMARY\\DIFFUSION\\TRACEW", 5000, 80, np.nan, 90, 1000),
    "DWI": ("ep2d_diff_tra", "EP", "ORIGINAL\\PRIMARY\\DIFFUSION\\NONE", 5000, 80, np.nan, 90, 1000),
    "ADC": ("ep2d_diff_tra_ADC", "EP", "DERIVED\\PRIMARY\\DIFFUSION\\ADC", 5000, 80, np.nan, 90, np.nan),
    "GRE": ("t2_fl2d_tra_hemo", "GR", "ORIGINAL\\PRIMARY\\M", 600, 20, np.nan, 20, np.nan),
    "Perfusion": ("ep2d_perf", "EP", "ORIGINAL\\PRIMARY\\PERFUSION", 1500, 30, np.nan, 90, np.nan),
}


def cohort(n_series_per_class: int, seed: int, prefix: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(manifest, slice index) of synthetic series: jittered timings, 15% uninformative descriptions."""
    rng = np.random.default_rng(seed)
    manifest, slices = [], []
    for label, (desc, seq, itype, tr, te, ti, flip, b) in RECIPES.items():
        for i in range(n_series_per_class):
            key = f"{prefix}-{label}-{i}"
            jitter = rng.uniform(0.8, 1.2, size=4)
            manifest.append({
                "series_key": key, "patient_key": f"{prefix}p{i}", "study_key": f"{prefix}s{i}", "label": label,
                "series_description": "SERIES 1" if rng.random() < 0.15 else desc, "protocol_name": desc.upper(),
                "scanning_sequence": seq, "image_type": itype, "repetition_time_ms": tr * jitter[0],
                "echo_time_ms": te * jitter[1], "inversion_time_ms": ti * jitter[2], "flip_angle_deg": flip,
                "b_value": b,
            })
            for k in range(int(rng.integers(2, 7))):
                slices.append({"series_key": key, "study_key": f"{prefix}s{i}", "patient_key": f"{prefix}p{i}",
                               "plane": "axial", "slice_index": k, "label": label})
    index = pd.DataFrame(slices)
    index.insert(0, "row", np.arange(len(index)))
    return pd.DataFrame(manifest).reindex(columns=MANIFEST_COLUMNS), index


def test_header_baseline_learns_from_headers_and_weights_slices():
    train_manifest, train_index = cohort(12, seed=0, prefix="tr")
    test_manifest, test_index = cohort(6, seed=1, prefix="te")
    manifest = pd.concat([train_manifest, test_manifest], ignore_index=True)
    result = header_baseline(manifest, train_index, test_index, seed=0)

    assert result.series.accuracy >= 0.85
    assert result.series.confusion.to_numpy().sum() == 9 * 6
    predictions = result.predictions
    correct = predictions["label"] == predictions["predicted"]
    assert result.series.accuracy == pytest.approx(correct.mean())
    # Per slice, each series counts as many times as it has slices.
    assert result.slices.accuracy == pytest.approx((correct * predictions["n_slices"]).sum()
                                                   / predictions["n_slices"].sum())
    assert result.slices.confusion.to_numpy().sum() == len(test_index)
    # Deterministic by seed.
    again = header_baseline(manifest, train_index, test_index, seed=0)
    assert again.predictions.equals(result.predictions)


def test_series_missing_from_manifest_is_a_clear_error():
    manifest, index = cohort(2, seed=0, prefix="tr")
    with pytest.raises(ValueError, match="not in the manifest"):
        header_baseline(manifest.iloc[1:], index, index, seed=0)
