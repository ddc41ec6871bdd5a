"""Self-supervised pretraining (SimCLR or SimSiam) of the ResNet-18 encoder, resumable.

A run checkpoints after every epoch into a folder of its own (``last.pt``: model, optimiser,
scheduler, grad-scaler states and the metrics so far) and, when started again with the same
settings, continues from there. Every random draw inside an epoch (batch order, augmentations)
comes from generators seeded by (seed, epoch), so the random state at an epoch boundary is
fully given by the epoch number: a killed-and-resumed run on CPU ends with byte-identical
metrics and weights to an uninterrupted one.

Positive pairs (``positives``): ``views``, as paper 000, are two augmentations of one slice;
``series`` pairs each slice with another slice of its series (any plane), both augmented: the
multi-instance positives of MICLe (Azizi et al., ICCV 2021, "Big self-supervised models advance
medical image classification"). Series membership is known without labels (the DICOM series), and
it makes the features invariant to slice position and plane while keeping the sequence contrast: on
the embedded cohort augmented views alone learn position as much as contrast
(``bench/seqclass_budget.py --positives``).

Under a process group (``mrissl.training.run_in_processes``: one process per GPU) each rank trains
on its shard of every batch (``batch_size / processes`` slices; ``training.shard`` of the epoch's
order, so a batch holds the same slices whatever the number of processes) with its own augmentation
generator, seeded by (seed, epoch, rank); the model is wrapped in DistributedDataParallel with batch
norm synchronised, the losses gather the whole batch (``mrissl.contrastive``), rank 0 writes the
checkpoints and every rank resumes from them. A checkpoint records the number of processes: a run
continues only with as many as it started with.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mrissl.config import config_from_section
from mrissl.seqclass.augment import AugmentConfig, augment_batch, device_generator
from mrissl.seqclass.datasets import epoch_order, iterate_batches, load_slices, to_batch
from mrissl.seqclass.losses import contrastive_top1, normalised_std
from mrissl.seqclass.models import pretraining_model, resnet18_encoder
from mrissl.seqclass.optim import pretraining_optimizer, warmup_cosine
from mrissl.training import (cpu_state, derived_seed, distributed_model, load_checkpoint, process_rank,
                             resolve_device, save_atomically, shard, world_size)

log = logging.getLogger(__name__)

METRIC_COLUMNS = ["epoch", "loss", "contrastive_top1", "z_std", "lr"]
POSITIVES = ("views", "series")


@dataclass(frozen=True)
class PretrainConfig:
    method: str = "simclr"            # simclr | simsiam
    batch_size: int = 256
    image_size: int = 84              # slices are resized on the device when stored at another size
    epochs: int = 50
    optimizer: str = "sgd"            # lars (SimCLR's recipe) | sgd (SimSiam's); see mrissl.seqclass.optim
    lr: float = 0.05                  # per 256 images; the optimiser uses lr * batch_size / 256
    weight_decay: float = 1e-4
    warmup_epochs: int = 0            # linear warm-up before the cosine decay
    temperature: float = 0.5          # SimCLR only
    positives: str = "views"          # views (two augmentations of a slice) | series (two slices of a series)
    widen_factor: float = 1.0         # 1.0 is ResNet-18; 0.5 halves every layer's width
    seed: int = 0
    device: str = "auto"              # auto (CUDA when present, else CPU) | cpu | cuda | cuda:N
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.positives not in POSITIVES:
            raise ValueError(f"seqclass.pretrain.positives is {self.positives!r}; one of {list(POSITIVES)}")

    @classmethod
    def from_dict(cls, values: dict) -> PretrainConfig:
        return config_from_section(cls, values, "seqclass.pretrain")


@dataclass
class PretrainResult:
    metrics: pd.DataFrame                       # one row per epoch, columns METRIC_COLUMNS
    encoder_initial: dict[str, torch.Tensor]    # encoder weights before training ("epoch 0")
    encoder_final: dict[str, torch.Tensor]


def pretrain_from_file(array_path: Path | str, config: PretrainConfig, checkpoint_dir: Path | str,
                       index_path: Path | str | None = None) -> PretrainResult:
    """``pretrain`` on the memory-mapped slices of the ``.npy`` file ``array_path`` (what each process of a
    multi-GPU job calls: it maps the file itself, where a memory map passed to it would be copied), with
    the series of each slice from its index ``index_path`` when given (only that column is used)."""
    if index_path is None:
        return pretrain(np.load(array_path, mmap_mode="r"), config, checkpoint_dir)
    slices = load_slices(array_path, index_path)
    return pretrain(slices.images, config, checkpoint_dir, slices.index["series_key"].to_numpy())


class SeriesPartners:
    """Draws, for slices given by row, another slice of the same series (itself when it is alone)."""

    def __init__(self, series: np.ndarray):
        self.by_series = np.argsort(series, kind="stable")  # rows grouped by series
        _, group, counts = np.unique(series[self.by_series], return_inverse=True, return_counts=True)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.start = np.empty(len(series), np.int64)
        self.count = np.empty(len(series), np.int64)
        self.position = np.empty(len(series), np.int64)  # of each row within its series' group
        self.start[self.by_series], self.count[self.by_series] = starts[group], counts[group]
        self.position[self.by_series] = np.arange(len(series)) - starts[group]

    def draw(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        count = self.count[rows]
        # A uniform draw among the count - 1 others: skip 1 .. count - 1 places round the group.
        skip = 1 + np.floor(rng.random(len(rows)) * (count - 1)).astype(np.int64)
        return self.by_series[self.start[rows] + (self.position[rows] + skip) % count]


def pretrain(images: np.ndarray, config: PretrainConfig, checkpoint_dir: Path | str,
             series: np.ndarray | None = None) -> PretrainResult:
    """Pretrain an encoder on the (N, H, W) slices ``images``; resume from ``checkpoint_dir`` if it holds a run.

    ``series`` (N series keys) is needed for ``positives: series``.
    """
    if config.positives == "series" and (series is None or len(series) != len(images)):
        raise ValueError("seqclass.pretrain.positives: series needs the series key of every training slice")
    partners = SeriesPartners(series) if config.positives == "series" else None
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    use_amp = device.type == "cuda"
    rank, processes = process_rank(), world_size()
    if config.batch_size % processes:
        raise ValueError(f"seqclass.pretrain batch size {config.batch_size} cannot be split evenly over "
                         f"{processes} training processes (config resources.gpu.gpu)")
    n_batches = len(images) // config.batch_size  # drop the last partial batch: a contrastive loss depends on N
    if n_batches == 0:
        raise ValueError(f"{len(images)} training slices cannot fill one batch of {config.batch_size}; "
                         "lower the batch size or curate more slices")
    log.info("%d training slices: %d batches of %d an epoch, %d process(es)", len(images), n_batches,
             config.batch_size, processes)

    torch.manual_seed(config.seed)  # the initial weights
    model = pretraining_model(config.method, resnet18_encoder(config.widen_factor), config.temperature).to(device)
    net = distributed_model(model)  # model itself in one process
    optimizer = pretraining_optimizer(model, config.optimizer, config.lr * config.batch_size / 256, config.weight_decay)
    scheduler = warmup_cosine(optimizer, config.warmup_epochs * n_batches, config.epochs * n_batches)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)

    settings = {**dataclasses.asdict(config), "processes": processes}
    initial_path, last_path = checkpoint_dir / "encoder_epoch0.pt", checkpoint_dir / "last.pt"
    state = load_checkpoint(last_path, settings, device)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        history, start = state["metrics"], state["epoch"]
        log.info("resuming %s from epoch %d of %d (%s)", config.method, start, config.epochs, last_path)
    else:
        if rank == 0:
            save_atomically(cpu_state(model.encoder), initial_path)
        history, start = [], 0

    for epoch in range(start, config.epochs):
        began = time.perf_counter()
        net.train()
        generator = device_generator(device, derived_seed(config.seed, epoch, rank))
        partner_rng = np.random.default_rng(derived_seed(config.seed, epoch, rank))
        sums = np.zeros(3)
        order = shard(epoch_order(len(images), config.seed, epoch), rank, processes)
        for rows in iterate_batches(order, config.batch_size // processes, n_batches):
            batch = to_batch(images[rows], device, config.image_size)
            second = batch if partners is None else to_batch(
                images[partners.draw(rows, partner_rng)], device, config.image_size)
            view1 = augment_batch(batch, config.augment, generator)
            view2 = augment_batch(second, config.augment, generator)
            with torch.autocast(device.type, enabled=use_amp):
                loss, z1, z2 = net(view1, view2)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            sums += (loss.item(), contrastive_top1(z1, z2), normalised_std(z1))
        loss_mean, top1, z_std = (sums / n_batches).tolist()
        if not math.isfinite(loss_mean):
            raise FloatingPointError(f"{config.method} loss became {loss_mean} in epoch {epoch + 1}; lower lr")
        history.append({"epoch": epoch + 1, "loss": loss_mean, "contrastive_top1": top1, "z_std": z_std,
                        "lr": scheduler.get_last_lr()[0]})
        if rank == 0:
            save_atomically({"epoch": epoch + 1, "config": settings, "model": model.state_dict(),
                             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                             "scaler": scaler.state_dict(), "metrics": history}, last_path)
        seconds = time.perf_counter() - began
        log.info("%s epoch %d/%d: loss %.4f, contrastive top-1 %.3f, z std %.4f, %.1f s (%.0f img/s)",
                 config.method, epoch + 1, config.epochs, loss_mean, top1, z_std, seconds,
                 n_batches * config.batch_size / seconds)

    return PretrainResult(
        metrics=pd.DataFrame(history, columns=METRIC_COLUMNS),
        encoder_initial=torch.load(initial_path, map_location="cpu", weights_only=True),
        encoder_final=cpu_state(model.encoder),
    )
