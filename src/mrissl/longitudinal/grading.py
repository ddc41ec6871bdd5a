"""Transfer to disc degeneration grading (paper 002, section 4.2, Figs. 7-8).

Split. The graded subjects (any graded scan) are split as the paper's 920 into 670 / 50 / 200:
subjects with follow-up scans go to training only (so neither the grading test set nor its
validation set holds anyone the Siamese network saw), twin pairs stay together (a twin pair with
a follow-up goes to training), and the validation and test sets get the paper's shares of all
graded subjects, drawn among the rest. The training subjects, in a seeded order, give nested
subsets at the paper's proportions (240 / 361 / 670 subjects; Fig. 8 counts their scans).

Classifier. ``models.VGGMNet`` on the IVD volumes with 4 outputs (the grades), every graded disc
(L1-L2 to L5-S1). Initialisations (``INITS``):

- ``scratch``: random weights, everything trained;
- ``random``: random convolutions, frozen; new FC layers trained;
- ``longitudinal``: the Siamese network's convolutions, frozen; new FC layers trained;
- ``supervised``: the convolutions of a network trained with supervision on another labelled
  spine task of the cohort (``supervised_pretrain``: IVD level and disc narrowing of the training
  subjects' discs), frozen -- the stand-in for the paper's SpineNet [5], an "upper bound".

Frozen convolutions are run once per disc on ``feature_views`` augmented views (the first without
augmentation) and the FC layers are trained on those cached features (standardised per unit), so a
frozen run costs a small fraction of a full one; their batch-norm statistics are first recomputed on
the training discs (random ones have none; the Siamese network's are the VBs'). The scratch network
sees fresh augmentations every epoch.

Training: SGD, momentum 0.9, weight decay 5e-4, class-balanced softmax log loss, lr / 10 on a
validation-loss plateau, stop after ``max_lr_drops`` drops or ``epochs``; the weights of the
lowest validation loss are tested. With ``equal_steps`` an epoch of a smaller subset draws its
discs again until it has as many batches as the largest subset's, so an epoch cap starves no subset.
Metric: the average class accuracy, the mean of the diagonal
of the row-normalised confusion matrix (classes present in the test set).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix

from mrissl.config import config_from_section
from mrissl.manifest import read_checked_table
from mrissl.longitudinal.augment import AugmentConfig, augment_volumes, device_generator
from mrissl.longitudinal.curation import GRADES
from mrissl.longitudinal.losses import balanced_class_weights, level_loss
from mrissl.longitudinal.models import NetworkConfig, VGGMNet
from mrissl.longitudinal.train import batch_input, to_device_volumes
from mrissl.longitudinal.vertebrae import IVD_LEVELS
from mrissl.training import cpu_state, derived_seed, load_checkpoint, resolve_device, save_atomically

log = logging.getLogger(__name__)

INITS = ("scratch", "random", "longitudinal", "supervised")
FROZEN_INITS = ("random", "longitudinal", "supervised")
GRADING_SPLIT_COLUMNS = ["subject_key", "group_key", "split", "follow_up", "order"]
RESULT_COLUMNS = ["init", "subset", "subjects", "scans", "discs", "test_discs", "average_class_accuracy",
                  "accuracy", "best_epoch"]
HISTORY_COLUMNS = ["init", "subset", "epoch", "loss", "val_loss", "val_average_class_accuracy", "lr"]
GRADED_LEVELS = IVD_LEVELS[1:]   # L1-L2 to L5-S1 (paper, section 3.1)


# --- split ---------------------------------------------------------------------------------------

def grading_split(scans: pd.DataFrame, graded_scans: set[str], proportions: dict[str, float],
                  seed: int) -> pd.DataFrame:
    """One row per graded subject (GRADING_SPLIT_COLUMNS); ``order`` ranks the training subjects for
    the nested subsets (-1 elsewhere).

    ``scans``: the linked scan table; ``graded_scans``: scan keys with gradings; ``proportions``:
    train / val / test sizes (the paper's 670 / 50 / 200), only their ratios matter.
    """
    graded = scans[scans["scan_key"].isin(graded_scans)]
    subjects = graded.drop_duplicates("subject_key")[["subject_key", "group_key"]].sort_values("subject_key")
    n_scans = scans.groupby("subject_key")["scan_key"].nunique()
    subjects["follow_up"] = subjects["subject_key"].map(n_scans).gt(1)
    total = sum(proportions.values())
    n_val = int(round(len(subjects) * proportions["val"] / total))
    n_test = int(round(len(subjects) * proportions["test"] / total))
    groups = subjects.groupby("group_key")["follow_up"].any()
    rng = np.random.default_rng([seed, 1002])
    candidates = sorted(groups.index[~groups])
    candidates = [candidates[i] for i in rng.permutation(len(candidates))]
    size = subjects.groupby("group_key").size()
    split_of = {g: "train" for g in groups.index}
    counts = {"test": 0, "val": 0}
    for group in candidates:
        for name, wanted in (("test", n_test), ("val", n_val)):
            if counts[name] + size[group] <= wanted:
                split_of[group] = name
                counts[name] += size[group]
                break
    if counts["test"] < n_test or counts["val"] < n_val:
        log.warning("only %d test and %d validation subjects without follow-up (wanted %d and %d)",
                    counts["test"], counts["val"], n_test, n_val)
    if not counts["test"] or not counts["val"]:
        raise ValueError("the grading split needs graded subjects without follow-up scans for validation and test")
    subjects["split"] = subjects["group_key"].map(split_of)
    train = subjects.index[subjects["split"] == "train"]
    order = np.full(len(subjects), -1)
    order[subjects.index.get_indexer(train)] = rng.permutation(len(train))
    subjects["order"] = order
    return subjects.reset_index(drop=True)[GRADING_SPLIT_COLUMNS]


def read_grading_split(path: Path | str) -> pd.DataFrame:
    """Read a table written from ``grading_split`` (keys stay strings)."""
    return read_checked_table(path, GRADING_SPLIT_COLUMNS, "the grading split", "re-run longitudinal_grading_split",
                              dtype={"subject_key": str, "group_key": str, "split": str})


def subset_sizes(n_train: int, sizes: tuple[int, ...]) -> list[int]:
    """Training subjects of each nested subset: ``sizes`` (the paper's 240, 361, 670) scaled so the
    largest is all ``n_train``."""
    return [max(1, int(round(n_train * s / max(sizes)))) for s in sizes]


def nested_subsets(split: pd.DataFrame, sizes: tuple[int, ...]) -> dict[int, set[str]]:
    """Subset size (subjects) -> the training subjects in it: the first of ``order``; each holds the smaller."""
    train = split[split["split"] == "train"].sort_values("order")
    return {n: set(train["subject_key"].iloc[:n]) for n in subset_sizes(len(train), sizes)}


def disc_table(index: pd.DataFrame, split: pd.DataFrame) -> pd.DataFrame:
    """The graded IVDs (L1-L2..L5-S1) of the split's subjects with their split and grade class 0-3."""
    discs = index[(index["kind"] == "IVD") & index["grade"].notna() & index["level"].isin(GRADED_LEVELS)]
    discs = discs.merge(split[["subject_key", "split"]], on="subject_key")
    return discs.assign(label=discs["grade"].astype(int) - min(GRADES)).sort_values("row", ignore_index=True)


# --- training ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlateauSGDConfig:
    """What the grading classifier and the supervised stand-in share: SGD with momentum, lr / 10 on a
    validation-loss plateau, a stop after ``max_lr_drops`` drops or ``epochs``; network and augmentation."""

    SECTION: ClassVar[str] = ""       # the config section ``from_dict`` reads, named in its errors

    epochs: int = 2000                # cap (paper: about 2000)
    batch_size: int = 128
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    plateau_patience: int = 10
    max_lr_drops: int = 2
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    network: NetworkConfig = field(default_factory=NetworkConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    @classmethod
    def from_dict(cls, values: dict):
        return config_from_section(cls, values, cls.SECTION)


@dataclass(frozen=True)
class GradingConfig(PlateauSGDConfig):
    """``longitudinal.grading`` of the config; ``epochs`` caps the FC layers on frozen features."""

    SECTION: ClassVar[str] = "longitudinal.grading"

    proportions: dict = field(default_factory=lambda: {"train": 670, "val": 50, "test": 200})
    subset_sizes: tuple[int, ...] = (240, 361, 670)
    scratch_epochs: int = 2000        # cap for the network trained from scratch
    scratch_lr: float | None = None   # of the network trained from scratch (None: lr)
    equal_steps: bool = True          # every subset's epoch has as many batches as the largest subset's
    feature_views: int = 4            # cached views per disc for frozen convolutions (1: no augmentation)


def average_class_accuracy(labels: np.ndarray, predictions: np.ndarray, n_classes: int = len(GRADES)) -> float:
    """Mean of the diagonal of the row-normalised confusion matrix over the classes present in ``labels``."""
    matrix = confusion_matrix(labels, predictions, labels=list(range(n_classes))).astype(float)
    present = matrix.sum(axis=1) > 0
    return float(np.mean(np.diag(matrix)[present] / matrix.sum(axis=1)[present]))


def conv_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The convolutional part (``features.*``) of a VGGMNet state dict."""
    return {k: v for k, v in state.items() if k.startswith("features.")}


def epoch_order(train: np.ndarray, batch_size: int, min_steps: int, rng: np.random.Generator) -> np.ndarray:
    """``train`` shuffled; for a set too small to fill ``min_steps`` batches, shuffled again and again
    (each pass a new permutation) up to ``min_steps`` full batches, so every training subset gets as
    many SGD steps per epoch as the largest (with ``min_steps`` set to its batches per epoch)."""
    order = train[rng.permutation(len(train))]
    wanted = min_steps * batch_size
    while len(order) < wanted:
        order = np.concatenate([order, train[rng.permutation(len(train))]])
    return order if len(train) >= wanted else order[:wanted]


class _Run:
    """One classifier fit: resumable epochs with plateau stopping, best-validation weights."""

    def __init__(self, model: torch.nn.Module, parameters, config: PlateauSGDConfig, epochs: int, path: Path,
                 settings: dict, lr: float | None = None):
        self.model, self.config, self.epochs, self.path = model, config, epochs, path
        self.optimizer = torch.optim.SGD(parameters, lr=lr or config.lr, momentum=config.momentum,
                                         weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, mode="min", factor=0.1,
                                                                    patience=config.plateau_patience)
        self.settings, self.history, self.epoch, self.best, self.drops, self.done = settings, [], 0, None, 0, False
        state = load_checkpoint(path, settings, torch.device("cpu"))
        if state is not None:
            model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.history, self.epoch, self.best = state["history"], state["epoch"], state["best"]
            self.drops, self.done = state["drops"], state["done"]

    def running(self) -> bool:
        return not self.done and self.epoch < self.epochs and self.drops <= self.config.max_lr_drops

    def end_epoch(self, loss: float, val_loss: float, val_accuracy: float) -> None:
        if not math.isfinite(loss):
            raise FloatingPointError(f"the grading loss became {loss}; lower the learning rate")
        lr = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step(val_loss)
        if self.optimizer.param_groups[0]["lr"] < lr:
            self.drops += 1
        if self.best is None or val_loss < self.best["val_loss"]:
            self.best = {"val_loss": val_loss, "epoch": self.epoch + 1, "model": cpu_state(self.model)}
        self.epoch += 1
        self.history.append({"epoch": self.epoch, "loss": loss, "val_loss": val_loss,
                             "val_average_class_accuracy": val_accuracy, "lr": lr})
        self.done = not self.running()
        save_atomically({"config": self.settings, "model": self.model.state_dict(),
                         "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                         "history": self.history, "epoch": self.epoch, "best": self.best, "drops": self.drops,
                         "done": self.done}, self.path)


@torch.no_grad()
def recalibrate_batch_norm(model: VGGMNet, volumes: torch.Tensor, rows: np.ndarray, device: torch.device,
                           batch_size: int = 128) -> None:
    """Recompute the running statistics of the convolutions' batch norms on ``rows`` (a cumulative
    average over one pass), so frozen convolutions see the IVDs' own statistics: random ones have
    none yet, and the Siamese network's were those of the VBs."""
    norms = [m for m in model.features.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    model.features.train()
    for start in range(0, len(rows), batch_size):
        model.features(batch_input(volumes, rows[start:start + batch_size], device))
    for norm in norms:
        norm.momentum = 0.1
    model.eval()


def standardise(features: torch.Tensor, train: np.ndarray) -> torch.Tensor:
    """Features (views, N, ...) centred and scaled per unit by the training discs' unaugmented view: the
    FC layers then start well conditioned whatever the convolutions' scale (an affine change of FC6's
    input, which FC6 could absorb; it changes the optimisation only)."""
    reference = features[0, train]
    scale = reference.std(0)
    scale = torch.where(scale > 1e-3 * scale.mean(), scale, torch.ones_like(scale))  # units constant in training
    return (features - reference.mean(0)) / scale


@torch.no_grad()
def conv_features(model: VGGMNet, volumes: torch.Tensor, rows: np.ndarray, views: int, config: GradingConfig,
                  device: torch.device, batch_size: int = 128) -> torch.Tensor:
    """(views, len(rows), C, H, W) conv features; view 0 without augmentation, the others augmented."""
    model.eval()
    out = []
    for view in range(views):
        generator = device_generator(device, derived_seed(config.seed, 7, view))
        chunks = []
        for start in range(0, len(rows), batch_size):
            x = batch_input(volumes, rows[start:start + batch_size], device)
            if view:
                x = augment_volumes(x, config.augment, generator)
            chunks.append(model.features(x).cpu())
        out.append(torch.cat(chunks))
    return torch.stack(out)


def _evaluate_logits(logits: torch.Tensor, labels: np.ndarray,
                     weights: torch.Tensor) -> tuple[float, float, np.ndarray]:
    loss = float(level_loss(logits, torch.as_tensor(labels), weights))
    predictions = logits.argmax(1).numpy()
    return loss, average_class_accuracy(labels, predictions), predictions


def fit_head(model: VGGMNet, features: torch.Tensor, labels: np.ndarray, train: np.ndarray, val: np.ndarray,
             config: GradingConfig, path: Path, settings: dict, min_steps: int = 1) -> _Run:
    """Train FC6-FC8 of ``model`` on cached conv ``features`` (views, N, ...) of the discs; positions
    ``train`` / ``val`` index N."""
    weights = torch.as_tensor(balanced_class_weights(labels[train], len(GRADES)), dtype=torch.float32)
    head = [p for name, p in model.named_parameters() if not name.startswith("features.")]
    run = _Run(model, head, config, config.epochs, path, settings)
    views = features.shape[0]
    y = torch.as_tensor(labels)
    while run.running():
        model.train()
        rng = np.random.default_rng([config.seed, 11, run.epoch])
        torch.manual_seed(derived_seed(config.seed, 11, run.epoch))  # dropout: the same draws after a resume
        order = epoch_order(train, config.batch_size, min_steps, rng)
        view = rng.integers(views, size=len(order))
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            rows, v = order[start:start + config.batch_size], view[start:start + config.batch_size]
            _, logits = model.head(features[v, rows])
            loss = level_loss(logits, y[rows], weights)
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            run.optimizer.step()
            total += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            _, logits = model.head(features[0, val])
        val_loss, val_accuracy, _ = _evaluate_logits(logits, labels[val], weights)
        run.end_epoch(total / len(order), val_loss, val_accuracy)
    return run


def fit_network(model: VGGMNet, volumes: torch.Tensor, rows: np.ndarray, labels: np.ndarray, train: np.ndarray,
                val: np.ndarray, config: GradingConfig, device: torch.device, path: Path, settings: dict,
                epochs: int, min_steps: int = 1) -> _Run:
    """Train the whole ``model`` on the augmented volumes ``rows[train]``, validating on ``rows[val]``."""
    weights = torch.as_tensor(balanced_class_weights(labels[train], len(GRADES)), dtype=torch.float32)
    run = _Run(model, model.parameters(), config, epochs, path, settings, config.scratch_lr)
    y = torch.as_tensor(labels)
    while run.running():
        model.train()
        rng = np.random.default_rng([config.seed, 13, run.epoch])
        torch.manual_seed(derived_seed(config.seed, 13, run.epoch))  # dropout: the same draws after a resume
        generator = device_generator(device, derived_seed(config.seed, 13, run.epoch))
        order = epoch_order(train, config.batch_size, min_steps, rng)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            chunk = order[start:start + config.batch_size]
            x = augment_volumes(batch_input(volumes, rows[chunk], device), config.augment, generator)
            _, logits = model(x)
            loss = level_loss(logits, y[chunk].to(device), weights.to(device))
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            run.optimizer.step()
            total += loss.item() * len(chunk)
        logits = predict(model, volumes, rows[val], device)
        val_loss, val_accuracy, _ = _evaluate_logits(logits, labels[val], weights)
        run.end_epoch(total / len(order), val_loss, val_accuracy)
    return run


@torch.no_grad()
def predict(model: VGGMNet, volumes: torch.Tensor, rows: np.ndarray, device: torch.device,
            batch_size: int = 128) -> torch.Tensor:
    model.eval()
    return torch.cat([model(batch_input(volumes, rows[s:s + batch_size], device))[1].cpu()
                      for s in range(0, len(rows), batch_size)])


@dataclass
class GradingResult:
    results: pd.DataFrame     # RESULT_COLUMNS, one row per subset
    history: pd.DataFrame     # HISTORY_COLUMNS


def grade_discs(ivd: np.ndarray, index: pd.DataFrame, split: pd.DataFrame, init: str, config: GradingConfig,
                checkpoint_dir: Path | str, conv_weights: dict[str, torch.Tensor] | None = None) -> GradingResult:
    """Train and test the IVD grading classifier from ``init`` on each nested training subset.

    ``ivd``: the (N, rows, cols, S) IVD array the ``index`` rows point into; ``split``: from
    ``grading_split``; ``conv_weights``: a VGGMNet state dict whose ``features.*`` are transferred
    (``longitudinal`` and ``supervised``; ignored otherwise).
    """
    if init not in INITS:
        raise ValueError(f"unknown initialisation {init!r}; one of {INITS}")
    if init in ("longitudinal", "supervised") and conv_weights is None:
        raise ValueError(f"the {init} initialisation needs conv weights")
    if config.threads:
        torch.set_num_threads(config.threads)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    discs = disc_table(index, split)
    volumes = to_device_volumes(ivd)
    rows = discs["row"].to_numpy()
    labels = np.array(discs["label"], dtype=np.int64)
    val = np.flatnonzero(discs["split"].to_numpy() == "val")
    test = np.flatnonzero(discs["split"].to_numpy() == "test")
    subsets = nested_subsets(split, tuple(config.subset_sizes))
    shape = tuple(ivd.shape[1:])
    base_settings = {"config": dataclasses.asdict(config), "init": init, "discs": int(len(discs))}

    def new_model(subset_seed: int) -> VGGMNet:
        torch.manual_seed(config.seed)  # the same random convolutions for every subset and init
        model = VGGMNet(shape, len(GRADES), config.network)
        if init in ("longitudinal", "supervised"):
            model.load_state_dict(conv_state(conv_weights), strict=False)
        model.reset_head(derived_seed(config.seed, subset_seed))
        if init in FROZEN_INITS:
            for p in model.features.parameters():
                p.requires_grad_(False)
        return model.to(device)

    features = None
    if init in FROZEN_INITS:
        extractor = new_model(0)
        recalibrate_batch_norm(extractor, volumes, rows[discs["split"].to_numpy() == "train"], device)
        features = conv_features(extractor, volumes, rows, config.feature_views, config, device)
        log.info("%s: conv features %s of %d discs", init, tuple(features.shape), len(rows))
    largest = discs["subject_key"].isin(subsets[max(subsets)]).sum()
    min_steps = math.ceil(largest / config.batch_size) if config.equal_steps else 1
    results, history = [], []
    for n_subjects, members in subsets.items():
        train = np.flatnonzero(discs["subject_key"].isin(members).to_numpy())
        model = new_model(n_subjects)
        path = checkpoint_dir / f"{init}_{n_subjects}.pt"
        settings = {**base_settings, "subset": n_subjects}
        if features is not None:
            scaled = standardise(features, train)
            model = model.cpu()  # the FC layers on cached features: small enough for the CPU, where the features are
            run = fit_head(model, scaled, labels, train, val, config, path, settings, min_steps)
            model.load_state_dict(run.best["model"])
            with torch.no_grad():
                model.eval()
                logits = model.head(scaled[0, test])[1]
        else:
            run = fit_network(model, volumes, rows, labels, train, val, config, device, path, settings,
                              config.scratch_epochs, min_steps)
            model.load_state_dict(run.best["model"])
            logits = predict(model, volumes, rows[test], device)
        predictions = logits.argmax(1).numpy()
        results.append({
            "init": init, "subset": n_subjects, "subjects": len(members),
            "scans": int(discs.iloc[train]["scan_key"].nunique()), "discs": len(train), "test_discs": len(test),
            "average_class_accuracy": average_class_accuracy(labels[test], predictions),
            "accuracy": float((predictions == labels[test]).mean()), "best_epoch": run.best["epoch"],
        })
        history += [{"init": init, "subset": n_subjects, **h} for h in run.history]
        log.info("%s, %d subjects (%d scans): average class accuracy %.3f (epoch %d of %d)", init, len(members),
                 results[-1]["scans"], results[-1]["average_class_accuracy"], run.best["epoch"], run.epoch)
    return GradingResult(pd.DataFrame(results, columns=RESULT_COLUMNS), pd.DataFrame(history, columns=HISTORY_COLUMNS))


# --- the supervised stand-in for SpineNet --------------------------------------------------------

@dataclass(frozen=True)
class SupervisedConfig(PlateauSGDConfig):
    """``longitudinal.supervised`` of the config: the stand-in for the paper's SpineNet [5]."""

    SECTION: ClassVar[str] = "longitudinal.supervised"


SUPERVISED_CLASSES = len(IVD_LEVELS) + 2   # the disc's level (6), then narrowing no / yes


def supervised_targets(index: pd.DataFrame, gradings: pd.DataFrame) -> pd.DataFrame:
    """Every IVD of ``index`` with its level class and, when graded, its disc narrowing (0/1, else -1)."""
    discs = index[index["kind"] == "IVD"][["row", "scan_key", "subject_key", "level", "level_index"]]
    narrowing = gradings[["scan_key", "level", "disc_narrowing"]].dropna()
    discs = discs.merge(narrowing, on=["scan_key", "level"], how="left")
    return discs.assign(narrowing=discs["disc_narrowing"].fillna(-1).astype(int)).sort_values("row", ignore_index=True)


def supervised_loss(logits: torch.Tensor, level: torch.Tensor, narrowing: torch.Tensor,
                    weights: torch.Tensor) -> torch.Tensor:
    """Level softmax loss on the first 6 outputs plus the class-balanced narrowing loss on the last 2 (graded
    discs only)."""
    loss = level_loss(logits[:, :len(IVD_LEVELS)], level)
    graded = narrowing >= 0
    if graded.any():
        loss = loss + level_loss(logits[graded, len(IVD_LEVELS):], narrowing[graded], weights)
    return loss


def supervised_pretrain(ivd: np.ndarray, index: pd.DataFrame, gradings: pd.DataFrame, split: pd.DataFrame,
                        config: SupervisedConfig,
                        checkpoint_dir: Path | str) -> tuple[dict[str, torch.Tensor], pd.DataFrame]:
    """Train VGGMNet on the IVDs of the grading split's training subjects (IVD level + disc narrowing),
    validating on its validation subjects; returns the weights at the lowest validation loss and the
    per-epoch history (epoch, loss, val_loss, val_average_class_accuracy of narrowing, lr)."""
    if config.threads:
        torch.set_num_threads(config.threads)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    targets = supervised_targets(index, gradings).merge(split[["subject_key", "split"]], on="subject_key")
    volumes = to_device_volumes(ivd)
    rows = targets["row"].to_numpy()
    level = torch.as_tensor(np.array(targets["level_index"], dtype=np.int64))
    narrowing = torch.as_tensor(np.array(targets["narrowing"], dtype=np.int64))
    train = np.flatnonzero(targets["split"].to_numpy() == "train")
    val = np.flatnonzero(targets["split"].to_numpy() == "val")
    graded_train = narrowing[train].numpy()
    weights = torch.as_tensor(balanced_class_weights(graded_train[graded_train >= 0], 2), dtype=torch.float32)
    torch.manual_seed(config.seed)
    model = VGGMNet(tuple(ivd.shape[1:]), SUPERVISED_CLASSES, config.network).to(device)
    run = _Run(model, model.parameters(), config, config.epochs, checkpoint_dir / "supervised.pt",
               {"config": dataclasses.asdict(config), "discs": int(len(targets))})
    while run.running():
        model.train()
        rng = np.random.default_rng([config.seed, 17, run.epoch])
        torch.manual_seed(derived_seed(config.seed, 17, run.epoch))  # dropout: the same draws after a resume
        generator = device_generator(device, derived_seed(config.seed, 17, run.epoch))
        order = train[rng.permutation(len(train))]
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            chunk = order[start:start + config.batch_size]
            x = augment_volumes(batch_input(volumes, rows[chunk], device), config.augment, generator)
            loss = supervised_loss(model(x)[1], level[chunk].to(device), narrowing[chunk].to(device),
                                   weights.to(device))
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            run.optimizer.step()
            total += loss.item() * len(chunk)
        logits = predict(model, volumes, rows[val], device)
        val_loss = float(supervised_loss(logits, level[val], narrowing[val], weights))
        graded = narrowing[val].numpy() >= 0
        accuracy = average_class_accuracy(narrowing[val].numpy()[graded],
                                          logits[graded, len(IVD_LEVELS):].argmax(1).numpy(), 2)
        run.end_epoch(total / len(order), val_loss, accuracy)
        log.info("supervised epoch %d: loss %.4f, val loss %.4f, val narrowing accuracy %.3f", run.epoch,
                 total / len(order), val_loss, accuracy)
    return run.best["model"], pd.DataFrame(run.history)
