"""Downstream BRAF fusion vs V600E classification (paper 001, Methods and Tables 1-2, 9).

The image encoder alone (conv1-layer2 frozen: no gradient, eval mode; their output computed once
per volume), initialised randomly, from MedicalNet(-like) weights or from the contrastive
pretraining, with a head 512-256-1 (width-scaled; dropout before each linear layer) and a logistic
loss, V600E positive. AdamW, linear warm-up to the base lr over ``warmup_epochs`` epochs, then
StepLR(``step_size``, ``gamma``) (``lr_factor``). Cross-validation over the internal BRAF cases by
the patient folds of ``curation.patient_folds``: fold k is the test fold, fold k+1 (mod K) the
validation part of the training folds (the epoch with the best validation AUC is kept; the test
fold never selects anything), the rest trains. Each fold's model is also tested on the whole
external set. Predictions and the self-attention maps of every tested case are returned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mrissl.config import config_from_section
from mrissl.reportcl.models import ImageEncoder, MarkerClassifier, received_attention
from mrissl.reportcl.train import compute_stems
from mrissl.training import derived_seed, resolve_device

log = logging.getLogger(__name__)

BRAF_MARKERS = ("braf_fusion", "braf_v600e")
POSITIVE = "braf_v600e"
PREDICTION_COLUMNS = ["init", "fold", "dataset", "row", "patient_key", "label", "probability"]
METRIC_NAMES = ("auc", "precision", "recall", "f1")


@dataclass(frozen=True)
class DownstreamConfig:
    width: float = 1.0
    dropout: float = 0.25             # Table 9
    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 1e-2
    warmup_epochs: int = 10           # linear warm-up (paper: "a warm-up of 10 epochs")
    step_size: int = 10               # then StepLR(step_size, gamma)
    gamma: float = 0.5
    seed: int = 0
    device: str = "auto"

    @classmethod
    def from_dict(cls, values: dict, where: str = "reportcl.downstream", **fixed) -> DownstreamConfig:
        return config_from_section(cls, values, where, **fixed)


def lr_factor(epoch: int, config: DownstreamConfig) -> float:
    """Multiplier of the base lr in (1-based) ``epoch``: e / warmup up to the warm-up's end, then
    gamma ** ((e - warmup - 1) // step_size)."""
    if epoch <= config.warmup_epochs:
        return epoch / config.warmup_epochs
    return config.gamma ** ((epoch - config.warmup_epochs - 1) // config.step_size)


def braf_cases(index: pd.DataFrame) -> pd.DataFrame:
    """The BRAF fusion / V600E rows of a tumour index, with ``label`` (1: V600E)."""
    cases = index[index["marker"].isin(BRAF_MARKERS)].sort_values("row", ignore_index=True)
    return cases.assign(label=(cases["marker"] == POSITIVE).astype(int))


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if len(set(labels.tolist())) == 2 else float("nan")


def _predict(model: MarkerClassifier, stems: torch.Tensor, device, batch_size: int = 32):
    if len(stems) == 0:
        return np.zeros(0, np.float32), np.zeros((0, *stems.shape[2:]), np.float32)
    model.eval()
    probs, maps = [], []
    with torch.no_grad():
        for start in range(0, len(stems), batch_size):
            logits, attention = model(stems[start:start + batch_size].to(device))
            probs.append(torch.sigmoid(logits).cpu())
            maps.append(received_attention(attention, tuple(stems.shape[2:])).cpu())
    return torch.cat(probs).numpy(), torch.cat(maps).numpy()


@dataclass
class DownstreamResult:
    predictions: pd.DataFrame                 # PREDICTION_COLUMNS, every tested case of every fold
    internal_maps: np.ndarray                 # (N_internal_braf, *grid): each case by its test fold's model
    external_maps: np.ndarray                 # (n_folds, N_external_braf, *grid)
    history: pd.DataFrame                     # fold, epoch, lr, train_loss, val_auc


def cross_validate(init: str, encoder_state: dict | None, internal_images: np.ndarray, internal: pd.DataFrame,
                   folds: pd.DataFrame, external_images: np.ndarray, external: pd.DataFrame,
                   config: DownstreamConfig) -> DownstreamResult:
    """K-fold CV of the marker classifier from ``encoder_state`` (None: random init, seeded).

    ``internal`` / ``external``: BRAF cases (``braf_cases``) whose ``row`` indexes the image arrays;
    ``folds``: ``patient_key`` -> ``fold``.
    """
    device = resolve_device(config.device)
    torch.manual_seed(derived_seed(config.seed, 99))
    base = ImageEncoder(config.width, config.dropout)
    if encoder_state is not None:
        base.load_state_dict(encoder_state)
    start_state = {k: v.clone() for k, v in base.state_dict().items()}
    internal = internal.merge(folds[["patient_key", "fold"]], on="patient_key", how="left", validate="many_to_one")
    if internal["fold"].isna().any():
        raise ValueError("internal BRAF cases without a fold: folds.tsv and the index disagree")
    fold_of = internal["fold"].to_numpy(int)
    n_folds = int(folds["fold"].max()) + 1
    stems_int = compute_stems(base, np.asarray(internal_images[internal["row"].to_numpy()]), device)
    stems_ext = compute_stems(base, np.asarray(external_images[external["row"].to_numpy()]), device)
    y_int = torch.tensor(internal["label"].to_numpy(), dtype=torch.float32)
    rows, history = [], []
    internal_maps = np.zeros((len(internal), *stems_int.shape[2:]), np.float32)
    external_maps = np.zeros((n_folds, len(external), *stems_int.shape[2:]), np.float32)
    for k in range(n_folds):
        val_fold = (k + 1) % n_folds
        test = np.flatnonzero(fold_of == k)
        val = np.flatnonzero(fold_of == val_fold)
        train = np.flatnonzero((fold_of != k) & (fold_of != val_fold))
        torch.manual_seed(derived_seed(config.seed, k))
        encoder = ImageEncoder(config.width, config.dropout)
        encoder.load_state_dict(start_state)
        model = MarkerClassifier(encoder, config.dropout).to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda e: lr_factor(e + 1, config))
        best, best_auc = None, -np.inf
        for epoch in range(1, config.epochs + 1):
            model.train()
            generator = torch.Generator().manual_seed(derived_seed(config.seed, k, epoch))
            order = train[torch.randperm(len(train), generator=generator).numpy()]
            losses = []
            for start in range(0, len(order), config.batch_size):
                idx = order[start:start + config.batch_size]
                logits, _ = model(stems_int[idx].to(device))
                loss = F.binary_cross_entropy_with_logits(logits, y_int[idx].to(device))
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                losses.append(loss.item())
            lr = optimiser.param_groups[0]["lr"]
            scheduler.step()
            val_prob, _ = _predict(model, stems_int[val], device)
            val_auc = _auc(y_int[val].numpy(), val_prob)
            history.append({"init": init, "fold": k, "epoch": epoch, "lr": lr,
                            "train_loss": float(np.mean(losses)) if losses else float("nan"),
                            "val_auc": val_auc})
            score = val_auc if np.isfinite(val_auc) else -history[-1]["train_loss"]
            score = score if np.isfinite(score) else -np.inf
            if best is None or score > best_auc:   # strictly better: the earliest best epoch is kept
                best_auc, best = score, {n: v.detach().clone() for n, v in model.state_dict().items()}
        model.load_state_dict(best)
        for dataset, stems, cases, where in (("internal", stems_int[test], internal.iloc[test], test),
                                            ("external", stems_ext, external, None)):
            prob, maps = _predict(model, stems, device)
            if dataset == "internal":
                internal_maps[where] = maps
            else:
                external_maps[k] = maps
            rows.append(pd.DataFrame({"init": init, "fold": k, "dataset": dataset, "row": cases["row"].to_numpy(),
                                      "patient_key": cases["patient_key"].to_numpy(),
                                      "label": cases["label"].to_numpy(), "probability": prob}))
        log.info("%s fold %d: best val AUC %.3f; test AUC %.3f, external AUC %.3f", init, k, best_auc,
                 _auc(internal.iloc[test]["label"].to_numpy(), rows[-2]["probability"].to_numpy()),
                 _auc(external["label"].to_numpy(), rows[-1]["probability"].to_numpy()))
    return DownstreamResult(pd.concat(rows, ignore_index=True)[PREDICTION_COLUMNS], internal_maps, external_maps,
                            pd.DataFrame(history))


def fold_metrics(predictions: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """AUC, precision, recall, F1 (V600E positive, probability >= threshold) per init, dataset and fold."""
    from sklearn.metrics import precision_recall_fscore_support

    rows = []
    for (init, dataset, fold), group in predictions.groupby(["init", "dataset", "fold"], sort=False):
        y, p = group["label"].to_numpy(), group["probability"].to_numpy()
        precision, recall, f1, _ = precision_recall_fscore_support(y, p >= threshold, average="binary",
                                                                   zero_division=0)
        rows.append({"init": init, "dataset": dataset, "fold": int(fold), "auc": _auc(y, p),
                     "precision": float(precision), "recall": float(recall), "f1": float(f1)})
    return pd.DataFrame(rows)


__all__ = ["DownstreamConfig", "DownstreamResult", "braf_cases", "cross_validate", "fold_metrics", "lr_factor"]


def evaluate_init(init: str, encoder_state: dict | None, internal_index: pd.DataFrame, internal_images: np.ndarray,
                  internal_masks: np.ndarray, folds: pd.DataFrame, external_index: pd.DataFrame,
                  external_images: np.ndarray, external_masks: np.ndarray,
                  config: DownstreamConfig) -> tuple[DownstreamResult, pd.DataFrame]:
    """Cross-validate one init on the BRAF cases and score every fold's model: classification metrics
    and mean attention Dice (2D, 3D) of its test cases, internal (test fold) and external (all).

    Returns the CV result and one row per (dataset, fold): ``fold_metrics`` columns + dice_2d, dice_3d.
    """
    from mrissl.reportcl.explain import attention_dice

    internal, external = braf_cases(internal_index), braf_cases(external_index)
    result = cross_validate(init, encoder_state, internal_images, internal, folds, external_images, external, config)
    metrics = fold_metrics(result.predictions)
    fold_of = internal.merge(folds[["patient_key", "fold"]], on="patient_key", how="left")["fold"].to_numpy(int)
    dice_rows = []
    for k in range(int(folds["fold"].max()) + 1):
        test = np.flatnonzero(fold_of == k)
        scores = attention_dice(result.internal_maps[test], np.asarray(internal_masks[internal["row"].to_numpy()[test]]))
        dice_rows.append({"dataset": "internal", "fold": k, **scores.mean().to_dict()})
        scores = attention_dice(result.external_maps[k], np.asarray(external_masks[external["row"].to_numpy()]))
        dice_rows.append({"dataset": "external", "fold": k, **scores.mean().to_dict()})
    metrics = metrics.merge(pd.DataFrame(dice_rows), on=["dataset", "fold"], how="left", validate="one_to_one")
    return result, metrics
