"""Siamese pretraining on VB pairs across time (paper 002, sections 2.2-2.4 and 3.2), resumable.

The network (``models.VGGMNet``, 7 VB-level outputs) embeds both VBs of a pair with shared weights;
the loss is ``contrastive_loss`` of the FC7 embeddings plus ``level_weight`` times the
class-balanced level loss of FC8 on both VBs. SGD with momentum 0.9 and weight decay 5e-4; the
learning rate is divided by 10 when the validation loss has not improved for ``plateau_patience``
epochs, and training stops after ``max_lr_drops`` such drops (the paper's stopping criterion) or
``epochs``, whichever comes first. The weights kept are those of the lowest validation loss.

Checkpoints: ``last.pt`` in a folder of the run's own after every epoch (model, optimiser,
scheduler, best weights, metrics, settings); a run started again with the same settings continues
from there. Every random draw of an epoch (pairs, batch order, augmentation) comes from
(seed, epoch), so a killed-and-resumed run on CPU ends with the same weights and metrics.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from mrissl.config import config_from_section
from mrissl.longitudinal.augment import AugmentConfig, augment_pair, device_generator
from mrissl.longitudinal.losses import balanced_class_weights, contrastive_loss, level_loss, pair_distance
from mrissl.longitudinal.models import NetworkConfig, VGGMNet, as_network_input
from mrissl.longitudinal.pairs import sample_epoch_pairs
from mrissl.longitudinal.vertebrae import VB_LEVELS
from mrissl.training import cpu_state, derived_seed, load_checkpoint, resolve_device, save_atomically

log = logging.getLogger(__name__)

SIAMESE_METRICS = ["epoch", "loss", "contrastive", "level", "val_loss", "val_contrastive", "val_auc",
                   "val_level_accuracy", "lr"]


@dataclass(frozen=True)
class SiameseConfig:
    """``longitudinal.siamese`` of the config."""

    epochs: int = 500                 # cap (paper: about 500 epochs to the plateau stop)
    batch_size: int = 32              # pairs
    lr: float = 1e-5                  # paper
    momentum: float = 0.9
    weight_decay: float = 5e-4
    margin: float = 1.0               # of the contrastive loss (the paper gives none)
    level_weight: float = 1.0         # of the auxiliary level loss
    max_positives: int | None = None  # positive pairs per epoch (None: all), as many negatives
    plateau_patience: int = 10        # epochs without a lower validation loss before lr / 10
    max_lr_drops: int = 2             # stop at the drop after this many
    seed: int = 0
    device: str = "auto"
    threads: int = 0                  # torch CPU threads (0: leave torch's default)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    @classmethod
    def from_dict(cls, values: dict) -> SiameseConfig:
        return config_from_section(cls, values, "longitudinal.siamese")


@dataclass
class SiameseResult:
    metrics: pd.DataFrame             # SIAMESE_METRICS, one row per epoch run
    model: dict[str, torch.Tensor]    # weights at the lowest validation loss


def to_device_volumes(volumes: np.ndarray) -> torch.Tensor:
    """All stored volumes (N, rows, cols, S) as one float16 tensor on the CPU (converted per batch)."""
    return torch.from_numpy(np.array(volumes, dtype=np.float16))  # a copy: memmaps are read-only


def batch_input(volumes: torch.Tensor, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    return as_network_input(volumes[torch.from_numpy(np.array(rows, dtype=np.int64))].to(device))


@torch.no_grad()
def embed(model: VGGMNet, volumes: torch.Tensor, rows: np.ndarray, device: torch.device,
          batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """FC7 embeddings and FC8 logits of the volumes ``rows`` (no augmentation, eval mode)."""
    model.eval()
    embeddings, logits = [], []
    for start in range(0, len(rows), batch_size):
        e, l = model(batch_input(volumes, rows[start:start + batch_size], device))
        embeddings.append(e.float().cpu())
        logits.append(l.float().cpu())
    if not embeddings:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
    return torch.cat(embeddings).numpy(), torch.cat(logits).numpy()


def pairs_validation(model: VGGMNet, volumes: torch.Tensor, pairs: pd.DataFrame, levels: np.ndarray,
                     config: SiameseConfig, weights: torch.Tensor, device: torch.device) -> dict[str, float]:
    """Validation loss (contrastive + level), pair AUC and level accuracy of ``pairs``."""
    rows = np.unique(np.concatenate([pairs["a"].to_numpy(), pairs["b"].to_numpy()]))
    emb, logits = embed(model, volumes, rows, device)
    position = {r: i for i, r in enumerate(rows)}
    ia = np.array([position[r] for r in pairs["a"]])
    ib = np.array([position[r] for r in pairs["b"]])
    ea, eb = torch.from_numpy(emb[ia]), torch.from_numpy(emb[ib])
    same = torch.as_tensor(np.array(pairs["same"], dtype=np.int64))
    contrastive = float(contrastive_loss(ea, eb, same, config.margin))
    level = float(level_loss(torch.from_numpy(logits), torch.as_tensor(levels[rows]), weights.cpu()))
    distance = pair_distance(ea, eb).numpy()
    auc = float(roc_auc_score(pairs["same"], -distance)) if pairs["same"].nunique() == 2 else float("nan")
    return {"val_loss": contrastive + config.level_weight * level, "val_contrastive": contrastive, "val_auc": auc,
            "val_level_accuracy": float((logits.argmax(1) == levels[rows]).mean())}


def train_siamese(vb: np.ndarray, table: pd.DataFrame, config: SiameseConfig,
                  checkpoint_dir: Path | str) -> SiameseResult:
    """Train the Siamese network on the training split's VB pairs of ``table`` (``pairs.vb_table``),
    validating on the validation split's; ``vb`` is the (N, rows, cols, S) VB array the table's
    ``row`` indexes. Resumes from ``checkpoint_dir`` when it holds a run with the same settings."""
    if config.threads:
        torch.set_num_threads(config.threads)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    volumes = to_device_volumes(vb)
    levels = np.full(len(vb), -1, dtype=np.int64)
    levels[table["row"].to_numpy()] = table["level_index"].to_numpy()
    train_rows = table.loc[table["split"] == "train", "row"].to_numpy()
    weights = torch.as_tensor(balanced_class_weights(levels[train_rows], len(VB_LEVELS)), dtype=torch.float32,
                              device=device)
    # Fixed for the run; negatives from every validation subject (a small split may hold one with follow-up).
    val_pairs = sample_epoch_pairs(table, "val", derived_seed(config.seed, 99), 0, followup_only=False)

    torch.manual_seed(config.seed)
    model = VGGMNet(tuple(vb.shape[1:]), len(VB_LEVELS), config.network).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1,
                                                           patience=config.plateau_patience)
    settings = dataclasses.asdict(config)
    last_path = checkpoint_dir / "last.pt"
    history, start, best, drops = [], 0, None, 0
    state = load_checkpoint(last_path, settings, device)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, start, best, drops = state["metrics"], state["epoch"], state["best"], state["drops"]
        log.info("resuming the Siamese network from epoch %d (%s)", start, last_path)

    epoch = start
    while epoch < config.epochs and drops <= config.max_lr_drops:
        model.train()
        pairs = sample_epoch_pairs(table, "train", config.seed, epoch, max_positives=config.max_positives)
        generator = device_generator(device, derived_seed(config.seed, epoch))
        torch.manual_seed(derived_seed(config.seed, 23, epoch))  # dropout: the same draws after a resume
        sums, n_batches = np.zeros(3), 0
        for begin in range(0, len(pairs), config.batch_size):
            chunk = pairs.iloc[begin:begin + config.batch_size]
            a, b = augment_pair(batch_input(volumes, chunk["a"].to_numpy(), device),
                                batch_input(volumes, chunk["b"].to_numpy(), device), config.augment, generator)
            embedding, logits = model(torch.cat([a, b]))
            n = len(chunk)
            same = torch.as_tensor(np.array(chunk["same"], dtype=np.int64), device=device)
            contrastive = contrastive_loss(embedding[:n], embedding[n:], same, config.margin)
            level_labels = torch.as_tensor(np.concatenate([chunk["level_index"].to_numpy()] * 2), device=device)
            level = level_loss(logits, level_labels, weights)
            loss = contrastive + config.level_weight * level
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sums += (loss.item(), contrastive.item(), level.item())
            n_batches += 1
        mean_loss, mean_contrastive, mean_level = (sums / n_batches).tolist()
        if not math.isfinite(mean_loss):
            raise FloatingPointError(f"the Siamese loss became {mean_loss} in epoch {epoch + 1}; lower the lr")
        validation = pairs_validation(model, volumes, val_pairs, levels, config, weights, device)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(validation["val_loss"])
        if optimizer.param_groups[0]["lr"] < lr:
            drops += 1
        if best is None or validation["val_loss"] < best["val_loss"]:
            best = {"val_loss": validation["val_loss"], "epoch": epoch + 1, "model": cpu_state(model)}
        epoch += 1
        history.append({"epoch": epoch, "loss": mean_loss, "contrastive": mean_contrastive, "level": mean_level,
                        **validation, "lr": lr})
        save_atomically({"epoch": epoch, "config": settings, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "best": best,
                         "drops": drops, "metrics": history}, last_path)
        log.info("Siamese epoch %d: loss %.4f (contrastive %.4f, level %.4f), val loss %.4f, val AUC %.3f, "
                 "val level accuracy %.3f, lr %.2g", epoch, mean_loss, mean_contrastive, mean_level,
                 validation["val_loss"], validation["val_auc"], validation["val_level_accuracy"], lr)
    if drops > config.max_lr_drops:
        log.info("stopped after %d learning-rate drops (validation loss plateaued)", drops)
    log.info("keeping the weights of epoch %d (validation loss %.4f)", best["epoch"], best["val_loss"])
    return SiameseResult(metrics=pd.DataFrame(history, columns=SIAMESE_METRICS), model=best["model"])
