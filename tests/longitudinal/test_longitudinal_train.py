"""Siamese pretraining (paper 002, 3.2): resumable, plateau stopping, and the evaluation that follows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mrissl.longitudinal.augment import AugmentConfig
from mrissl.longitudinal.evaluate import pairs_table, twin_summary
from mrissl.longitudinal.inference import pair_distances
from mrissl.longitudinal.models import NetworkConfig
from mrissl.longitudinal.pairs import vb_table
from mrissl.longitudinal.train import SIAMESE_METRICS, SiameseConfig, train_siamese
from mrissl.longitudinal.vertebrae import INDEX_COLUMNS, VB_LEVELS

NETWORK = NetworkConfig(width=0.125, fc_width=16, conv1_stride=1, conv4_padding=1)


def cohort():
    """10 subjects, each with its own pattern (slightly changed at follow-up); two of them MZ twins."""
    rng = np.random.default_rng(0)
    layout = {f"s{i}": ("train" if i < 6 else "val" if i < 8 else "test") for i in range(10)}
    rows, volumes, scans, splits = [], [], [], []
    for subject, split in layout.items():
        twin = subject in ("s8", "s9")
        group = "t" if twin else subject
        splits.append({"patient_key": subject, "group_key": group, "split": split})
        pattern = rng.normal(0.5, 0.2, (16, 16, 3))
        for t in range(2):
            scan = f"{subject}_{t}"
            scans.append({"scan_key": scan, "subject_key": subject, "zygosity": "MZ" if twin else ""})
            for level_index, level in enumerate(VB_LEVELS):
                volumes.append(pattern + 0.1 * level_index + rng.normal(0, 0.05, pattern.shape))
                rows.append({"kind": "VB", "row": len(rows), "scan_key": scan, "subject_key": subject,
                             "group_key": group, "timepoint": t, "level": level, "level_index": level_index,
                             "grade": pd.NA, "mid_slice": 1, "width_mm": 40.0})
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    return np.stack(volumes).astype(np.float16), vb_table(index, pd.DataFrame(scans), pd.DataFrame(splits))


CONFIG = SiameseConfig(epochs=3, batch_size=8, lr=0.01, max_positives=12, plateau_patience=5, network=NETWORK,
                       augment=AugmentConfig(rotation_deg=5.0, max_shift_fraction=(0.05, 0.05), max_shift_slices=0),
                       threads=1, device="cpu")


def test_resumed_run_equals_uninterrupted(tmp_path):
    vb, table = cohort()
    whole = train_siamese(vb, table, CONFIG, tmp_path / "whole")
    assert list(whole.metrics.columns) == SIAMESE_METRICS and len(whole.metrics) == 3
    first = SiameseConfig(**{**CONFIG.__dict__, "epochs": 2})
    train_siamese(vb, table, first, tmp_path / "killed")
    # Another epoch cap is another run: the settings differ, so it refuses to resume from it ...
    with pytest.raises(ValueError, match="other settings"):
        train_siamese(vb, table, CONFIG, tmp_path / "killed")
    # ... but a run killed after two epochs resumes (here: its checkpoint under the full settings).
    state = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)
    state["config"]["epochs"] = CONFIG.epochs
    torch.save(state, tmp_path / "killed" / "last.pt")
    resumed = train_siamese(vb, table, CONFIG, tmp_path / "killed")
    pd.testing.assert_frame_equal(whole.metrics, resumed.metrics)
    assert all(torch.equal(whole.model[k], resumed.model[k]) for k in whole.model)


def test_plateau_stops_training(tmp_path):
    vb, table = cohort()
    # A learning rate too small to lower the validation loss by torch's 1e-4 relative threshold (and no
    # batch norm, whose running statistics would move it): every epoch is a plateau.
    config = SiameseConfig(**{**CONFIG.__dict__, "epochs": 50, "lr": 1e-6, "plateau_patience": 0, "max_lr_drops": 1,
                              "network": NetworkConfig(**{**NETWORK.__dict__, "batch_norm": False})})
    result = train_siamese(vb, table, config, tmp_path / "plateau")
    # Epoch 1 sets the best loss; no better one after epochs 2 and 3: lr / 10 twice, the second drop stops it.
    assert len(result.metrics) == 3
    assert result.metrics["lr"].tolist() == pytest.approx([1e-6, 1e-6, 1e-7])


def test_evaluation_of_a_trained_network(tmp_path):
    vb, table = cohort()
    result = train_siamese(vb, table, CONFIG, tmp_path / "run")
    distances, levels = pair_distances(vb, table, result.model, NETWORK, split="test", device="cpu")
    # Test split: s8 and s9 (MZ twins), two scans each: per level 2 positives and 4 twin pairs.
    assert (distances["same"] == 1).sum() == 2 * len(VB_LEVELS)
    assert (distances["relation"] == "MZ twin").sum() == 4 * len(VB_LEVELS)
    assert len(levels) == 4 * len(VB_LEVELS) and (distances["distance"] >= 0).all()
    summary = twin_summary(distances)
    assert summary.set_index("relation").loc["same subject", "pairs"] == 14
    table_ = pairs_table(distances, levels)
    assert table_["quantity"].str.startswith("AUC, same subject vs different").any()
