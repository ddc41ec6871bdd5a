"""Embeddings of a trained Siamese network: the distances of every VB pair of a split (Fig. 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from mrissl.longitudinal.evaluate import DISTANCE_COLUMNS, LEVEL_COLUMNS
from mrissl.longitudinal.losses import pair_distance
from mrissl.longitudinal.models import NetworkConfig, VGGMNet
from mrissl.longitudinal.pairs import evaluation_pairs
from mrissl.longitudinal.train import embed, to_device_volumes
from mrissl.training import resolve_device
from mrissl.longitudinal.vertebrae import VB_LEVELS


def pair_distances(vb: np.ndarray, table: pd.DataFrame, weights: dict[str, torch.Tensor], network: NetworkConfig,
                   split: str = "test", device: str = "auto") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(distances of every pair of ``split``: DISTANCE_COLUMNS, level predictions of its VBs: LEVEL_COLUMNS)."""
    model = VGGMNet(tuple(vb.shape[1:]), len(VB_LEVELS), network)
    model.load_state_dict(weights)
    dev = resolve_device(device)
    model.to(dev)
    pairs = evaluation_pairs(table, split)
    rows = table.loc[table["split"] == split, "row"].to_numpy()
    embeddings, logits = embed(model, to_device_volumes(vb[np.sort(rows)]), np.arange(len(rows)), dev)
    position = {r: i for i, r in enumerate(np.sort(rows))}
    ia = np.array([position[r] for r in pairs["a"]], dtype=np.int64)
    ib = np.array([position[r] for r in pairs["b"]], dtype=np.int64)
    distance = pair_distance(torch.from_numpy(embeddings[ia]), torch.from_numpy(embeddings[ib])).numpy()
    levels = table.set_index("row").loc[np.sort(rows), "level_index"].to_numpy()
    predictions = pd.DataFrame({"row": np.sort(rows), "level_index": levels, "predicted": logits.argmax(1)},
                               columns=LEVEL_COLUMNS)
    return pairs.assign(distance=distance.astype(float))[DISTANCE_COLUMNS], predictions
