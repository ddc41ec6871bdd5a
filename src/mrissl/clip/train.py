"""Training of study ``clip`` (paper 003, section 5): the CLIP-style model and the image-only baseline.

Adam (lr 0.01), ``ReduceLROnPlateau`` (factor 0.5, patience 10) on the validation loss, batch 8,
``epochs`` from the config (paper: 300); the weights of the epoch with the lowest validation loss
are kept (``best.pt``). A run checkpoints after every epoch into a folder of its own (``last.pt``:
model, optimiser, scheduler, best so far, metrics) and, started again with the same settings,
continues from there; every random draw of an epoch (batch order, augmentation) comes from a
generator seeded by (seed, epoch), so a resumed CPU run ends where an uninterrupted one does.

The symmetric InfoNCE depends on the batch size, so training drops the last partial batch (a
different remainder each epoch) and the validation loss is the mean over validation batches of
exactly ``batch_size`` studies that cover the set in a fixed order (the last one filled from the
start), the same batches every epoch: the two curves of Fig. 5 share their chance level log(8).

Training reads the volumes, the cached text features and, for the image-only baseline, the
report-derived class; never the phantom's true class (``TRAINING_COLUMNS``).

Under a process group (``mrissl.training.run_in_processes``: one process per GPU) each rank takes its
``training.shard`` of every training and validation batch, augmented by its own generator (seeded by
seed, epoch, rank), in DistributedDataParallel with batch norm synchronised; the losses are those of
the whole batch (``mrissl.contrastive``), so the run trains as one process on the whole batch would.
Rank 0 writes the checkpoints; every rank resumes from them, with the number of processes it started with.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from mrissl.clip.augment import AugmentConfig, augment_batch, scale_to_unit
from mrissl.clip.losses import clip_loss
from mrissl.clip.models import ClipModel, ImageClassifier, ModelConfig
from mrissl.config import config_from_section
from mrissl.contrastive import mean_over_ranks
from mrissl.training import (derived_seed, distributed_model, load_checkpoint, process_rank, resolve_device,
                             save_atomically, shard, wait_for_every_rank, world_size)

log = logging.getLogger(__name__)

# What training may read of results/clip/index.tsv (the true class stays with the evaluation).
TRAINING_COLUMNS = ["row", "study_key", "report_class"]
METRIC_COLUMNS = ["epoch", "train_loss", "val_loss", "lr", "logit_scale", "seconds"]


@dataclass(frozen=True)
class TrainConfig:
    """``clip.train`` of the config, with ``clip.model`` and ``clip.augment`` nested."""

    epochs: int = 300
    batch_size: int = 8
    lr: float = 0.01
    weight_decay: float = 0.0
    plateau_factor: float = 0.5
    plateau_patience: int = 10
    seed: int = 0
    device: str = "auto"
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    @classmethod
    def from_config(cls, section: dict, model: dict, augment: dict, seed: int) -> TrainConfig:
        return config_from_section(cls, section, "clip.train", seed=seed,
                                   model=ModelConfig.from_config(model), augment=AugmentConfig.from_config(augment))


@dataclass
class TrainResult:
    metrics: pd.DataFrame              # one row per epoch, columns METRIC_COLUMNS
    best_epoch: int
    model: nn.Module                   # with the best epoch's weights, on the CPU, in eval mode


def read_training_index(path: Path | str) -> pd.DataFrame:
    """The columns of ``results/clip/index.tsv`` that training may read (``TRAINING_COLUMNS``)."""
    return pd.read_csv(path, sep="\t", usecols=TRAINING_COLUMNS, dtype={"study_key": str})[TRAINING_COLUMNS]


def split_rows(index: pd.DataFrame, splits: pd.DataFrame) -> dict[str, np.ndarray]:
    """Volume rows of each split (``train``, ``val``, ``test``), in study-key order."""
    joined = splits.merge(index[["study_key", "row"]], on="study_key", how="left", validate="one_to_one")
    if joined["row"].isna().any():
        raise ValueError("splits.tsv names studies that index.tsv lacks; rerun clip_split")
    return {split: joined.loc[joined["split"] == split].sort_values("study_key")["row"].to_numpy(int)
            for split in ("train", "val", "test")}


def validation_batches(n: int, batch_size: int) -> list[np.ndarray]:
    """Batches of exactly ``batch_size`` positions covering 0..n-1 in order, the last filled from the start."""
    if n < batch_size:
        return [np.arange(n)]  # too few for a full batch: one smaller batch (its loss has another chance level)
    count = math.ceil(n / batch_size)
    return [np.arange(i * batch_size, (i + 1) * batch_size) % n for i in range(count)]


def to_device(volumes: np.ndarray, device: torch.device) -> torch.Tensor:
    """Stored volumes (N, C, x, y, z) as float32 on ``device``, each channel scaled to [0, 1]."""
    return scale_to_unit(torch.from_numpy(np.ascontiguousarray(volumes, dtype=np.float32)).to(device))


def _generator(device: torch.device, seed: int) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def fit(model: nn.Module, batch_loss: Callable, volumes: np.ndarray, train_rows: np.ndarray,
        val_rows: np.ndarray, config: TrainConfig, voxel_mm: tuple[float, float, float],
        checkpoint_dir: Path | str, after_step: Callable[[], None] = lambda: None, what: str = "clip") -> TrainResult:
    """The training loop shared by the CLIP model and the image-only baseline.

    ``batch_loss(net, images, rows)`` returns the loss of a batch of (scaled, perhaps augmented)
    ``images`` of the volume ``rows`` (under a process group: this rank's shard of them; the loss of the
    whole batch) computed by ``net``, ``model`` or its DistributedDataParallel wrapper; ``after_step``
    runs after each optimiser step (the clamp).
    """
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    rank, processes = process_rank(), world_size()
    if config.batch_size % processes:
        raise ValueError(f"clip.train.batch_size {config.batch_size} cannot be split evenly over {processes} "
                         "training processes (config resources.gpu.gpu)")
    n_batches = len(train_rows) // config.batch_size
    if n_batches == 0:
        raise ValueError(f"{len(train_rows)} training studies cannot fill one batch of {config.batch_size}; "
                         "lower clip.train.batch_size or enlarge the training split")
    if len(val_rows) == 0:
        raise ValueError("the validation split is empty: the best epoch needs a validation loss")
    model = model.to(device)
    net = distributed_model(model)  # model itself in one process
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=config.plateau_factor,
                                                           patience=config.plateau_patience)
    train_rows, val_rows = np.asarray(train_rows), np.asarray(val_rows)
    train_images = np.asarray(volumes[np.sort(train_rows)])  # in memory: read once, not once per epoch
    position = {int(r): i for i, r in enumerate(np.sort(train_rows))}
    if len(val_rows) < config.batch_size and len(val_rows) % processes:
        raise ValueError(f"the {len(val_rows)} validation studies (one batch, fewer than clip.train.batch_size) "
                         f"cannot be split evenly over {processes} training processes (config resources.gpu.gpu)")
    val_batches = [shard(np.sort(val_rows[b]), rank, processes)
                   for b in validation_batches(len(val_rows), config.batch_size)]
    val_images = [to_device(volumes[b], device) for b in val_batches]

    settings = {**dataclasses.asdict(config), "processes": processes}
    last_path, best_path = checkpoint_dir / "last.pt", checkpoint_dir / "best.pt"
    state = load_checkpoint(last_path, settings, device)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, start, best_val, best_epoch = state["metrics"], state["epoch"], state["best_val"], state["best_epoch"]
        log.info("resuming %s from epoch %d of %d (%s)", what, start, config.epochs, last_path)
    else:
        history, start, best_val, best_epoch = [], 0, math.inf, 0

    for epoch in range(start, config.epochs):
        began = time.perf_counter()
        net.train()
        generator = _generator(device, derived_seed(config.seed, epoch, 2, rank))
        order = np.random.default_rng(derived_seed(config.seed, epoch, 1)).permutation(train_rows)
        total = 0.0
        for b in range(n_batches):
            rows = shard(np.sort(order[b * config.batch_size:(b + 1) * config.batch_size]), rank, processes)
            images = to_device(train_images[[position[int(r)] for r in rows]], device)
            images = augment_batch(images, config.augment, voxel_mm, generator)
            loss = batch_loss(net, images, rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            after_step()
            total += loss.item()
        train_loss = total / n_batches
        net.eval()
        with torch.no_grad():
            val_loss = float(np.mean([batch_loss(net, images, rows).item()
                                      for images, rows in zip(val_images, val_batches)]))
        if not math.isfinite(train_loss) or not math.isfinite(val_loss):
            raise FloatingPointError(f"{what}: loss became {train_loss} / {val_loss} in epoch {epoch + 1}; lower lr")
        scheduler.step(val_loss)
        if val_loss < best_val:
            best_val, best_epoch = val_loss, epoch + 1
            if rank == 0:
                save_atomically({key: value.detach().cpu() for key, value in model.state_dict().items()}, best_path)
        scale = model.logit_scale().item() if hasattr(model, "logit_scale") else float("nan")
        seconds = time.perf_counter() - began
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss,
                        "lr": optimizer.param_groups[0]["lr"], "logit_scale": scale, "seconds": seconds})
        if rank == 0:
            save_atomically({"epoch": epoch + 1, "config": settings, "model": model.state_dict(),
                             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                             "metrics": history, "best_val": best_val, "best_epoch": best_epoch}, last_path)
        log.info("%s epoch %d/%d: train %.4f, val %.4f, lr %.2g, scale %.2f, %.1f s", what, epoch + 1,
                 config.epochs, train_loss, val_loss, history[-1]["lr"], scale, seconds)

    wait_for_every_rank()  # rank 0 has written best.pt
    model.load_state_dict(torch.load(best_path, map_location=device, weights_only=True))
    log.info("%s: best validation loss %.4f at epoch %d", what, best_val, best_epoch)
    return TrainResult(metrics=pd.DataFrame(history, columns=METRIC_COLUMNS), best_epoch=best_epoch,
                       model=model.cpu().eval())


def train_clip(volumes: np.ndarray, text_features: np.ndarray, train_rows: np.ndarray, val_rows: np.ndarray,
               config: TrainConfig, voxel_mm: tuple[float, float, float], checkpoint_dir: Path | str) -> TrainResult:
    """Train the CLIP-style model on the image-report pairs of ``train_rows`` (rows of ``volumes`` and
    of the frozen ``text_features``), keeping the epoch with the lowest validation loss."""
    torch.manual_seed(config.seed)  # the initial weights
    model = ClipModel(config.model, volumes.shape[1], tuple(volumes.shape[2:]), text_features.shape[1])
    device = resolve_device(config.device)
    texts = torch.from_numpy(np.array(text_features, dtype=np.float32)).to(device)  # a copy: npz arrays are read-only
    model.set_text_statistics(texts[torch.as_tensor(np.asarray(train_rows), device=device)].cpu())

    def batch_loss(net: nn.Module, images: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        image_embedding, text_embedding = net(images, texts[torch.as_tensor(rows, device=device)])
        return clip_loss(image_embedding, text_embedding, model.logit_scale())

    return fit(model, batch_loss, volumes, train_rows, val_rows, config, voxel_mm, checkpoint_dir,
               after_step=model.clamp_temperature_, what="clip")


def train_image_classifier(volumes: np.ndarray, labels: np.ndarray, n_classes: int, train_rows: np.ndarray,
                           val_rows: np.ndarray, config: TrainConfig, voxel_mm: tuple[float, float, float],
                           checkpoint_dir: Path | str) -> TrainResult:
    """The image-only baseline: the same encoder with a linear layer, cross-entropy on ``labels``
    (one integer per volume row: the report-derived class), same optimiser, schedule and best epoch."""
    torch.manual_seed(config.seed)
    model = ImageClassifier(config.model, volumes.shape[1], tuple(volumes.shape[2:]), n_classes)
    device = resolve_device(config.device)
    targets = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=device)

    def batch_loss(net: nn.Module, images: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        return mean_over_ranks(F.cross_entropy(net(images), targets[torch.as_tensor(rows, device=device)]))

    return fit(model, batch_loss, volumes, train_rows, val_rows, config, voxel_mm, checkpoint_dir,
               what="image baseline")


def model_checkpoint(model: ClipModel, volume_shape: tuple[int, ...], text_features: int) -> dict:
    """A plain dict (loads with ``weights_only=True``) of the weights and what rebuilds the model."""
    return {"state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "model": dataclasses.asdict(model.config), "volume_shape": list(volume_shape),
            "text_features": int(text_features)}


def load_clip_model(path: Path | str) -> ClipModel:
    """The model ``model_checkpoint`` saved, on the CPU, in eval mode."""
    stored = torch.load(path, map_location="cpu", weights_only=True)
    config = config_from_section(ModelConfig, stored["model"], "clip model checkpoint")
    shape = stored["volume_shape"]
    model = ClipModel(config, shape[0], tuple(shape[1:]), stored["text_features"])
    model.load_state_dict(stored["state"])
    return model.eval()


@torch.no_grad()
def embed(model: ClipModel, volumes: np.ndarray, text_features: np.ndarray, rows: np.ndarray,
          batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised image and text embeddings of ``rows`` (no augmentation), on the CPU."""
    model = model.eval()
    images = [model.encode_image(to_device(volumes[rows[i:i + batch_size]], torch.device("cpu")))
              for i in range(0, len(rows), batch_size)]
    texts = model.encode_text(torch.from_numpy(np.asarray(text_features[rows], dtype=np.float32)))
    return torch.cat(images).numpy(), texts.numpy()


def volumes_and_rows(volumes_path: Path | str, index_path: Path | str, splits_path: Path | str
                     ) -> tuple[np.ndarray, pd.DataFrame, dict[str, np.ndarray]]:
    """The memory-mapped volumes, the training columns of the index and the rows of each split."""
    index = read_training_index(index_path)
    splits = pd.read_csv(splits_path, sep="\t", usecols=["study_key", "split"], dtype={"study_key": str})
    return np.load(volumes_path, mmap_mode="r"), index, split_rows(index, splits)


def train_clip_from_files(volumes_path: Path | str, index_path: Path | str, splits_path: Path | str,
                          features_path: Path | str, config: TrainConfig, voxel_mm: tuple[float, float, float],
                          checkpoint_dir: Path | str) -> tuple[TrainResult, dict]:
    """``train_clip`` on the curated files; returns the result and the model checkpoint to save."""
    volumes, index, rows = volumes_and_rows(volumes_path, index_path, splits_path)
    with np.load(features_path) as stored:
        features = stored["features"]
    if len(features) != len(index):
        raise ValueError(f"{features_path} has {len(features)} reports, {index_path} {len(index)}: rerun clip_text")
    result = train_clip(volumes, features, rows["train"], rows["val"], config, voxel_mm, checkpoint_dir)
    result.metrics["batch_size"] = config.batch_size
    return result, model_checkpoint(result.model, volumes.shape[1:], features.shape[1])


def image_baseline_from_files(volumes_path: Path | str, index_path: Path | str, splits_path: Path | str,
                              config: TrainConfig, voxel_mm: tuple[float, float, float],
                              checkpoint_dir: Path | str) -> tuple[TrainResult, pd.DataFrame]:
    """The image-only baseline trained on the report-derived classes; its test predictions
    (``study_key``, ``predicted``) beside the training result."""
    volumes, index, rows = volumes_and_rows(volumes_path, index_path, splits_path)
    classes = sorted(index["report_class"].dropna().unique())
    labels = index.set_index("row")["report_class"].map({c: i for i, c in enumerate(classes)})
    labels = labels.reindex(np.arange(len(volumes))).fillna(-100).to_numpy(int)  # -100: ignored, unlabelled
    keep = {split: r[labels[r] >= 0] for split, r in rows.items()}
    result = train_image_classifier(volumes, labels, len(classes), keep["train"], keep["val"], config, voxel_mm,
                                    checkpoint_dir)
    test = rows["test"]
    with torch.no_grad():
        logits = torch.cat([result.model(to_device(volumes[test[i:i + config.batch_size]], torch.device("cpu")))
                            for i in range(0, len(test), config.batch_size)])
    keys = index.set_index("row").loc[test, "study_key"].to_numpy()
    predictions = pd.DataFrame({"study_key": keys, "predicted": np.asarray(classes)[logits.argmax(1).numpy()]})
    return result, predictions


def embed_test_set(model_path: Path | str, volumes_path: Path | str, index_path: Path | str,
                   splits_path: Path | str, features_path: Path | str, batch_size: int) -> dict[str, np.ndarray]:
    """Embeddings for the evaluation: the test images and reports (``test_rows``, ``image``, ``text``),
    the class prompts and the query, and one training batch of ``batch_size`` (Fig. 6)."""
    model = load_clip_model(model_path)
    volumes, index, rows = volumes_and_rows(volumes_path, index_path, splits_path)
    with np.load(features_path) as stored:
        features, prompts, query = stored["features"], stored["prompts"], stored["query"]
        prompt_classes = stored["prompt_classes"]
    test = rows["test"]
    images, texts = embed(model, volumes, features, test, batch_size)
    batch_rows = np.sort(rows["train"])[:batch_size]
    batch_images, batch_texts = embed(model, volumes, features, batch_rows, batch_size)
    with torch.no_grad():
        prompt_embeddings = model.encode_text(torch.tensor(prompts)).numpy()
        query_embedding = model.encode_text(torch.tensor(query)).numpy()
    keys = index.set_index("row").loc[test, "study_key"].to_numpy(str)
    return {"test_rows": test, "test_study_keys": keys, "image": images, "text": texts,
            "prompts": prompt_embeddings, "prompt_classes": prompt_classes, "query": query_embedding,
            "batch_rows": batch_rows, "batch_image": batch_images, "batch_text": batch_texts,
            "logit_scale": np.array(model.logit_scale().item())}
