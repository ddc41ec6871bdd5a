"""Supervised fine-tuning on a fraction of the labels, model selection on validation, test metrics.

The pieces are kept apart so that the test split cannot leak into model selection: ``finetune``
receives the training subset and the validation split only, picks the epoch with the best
validation accuracy, and returns that model; ``evaluate_classifier`` alone touches the test split.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, confusion_matrix, recall_score
from torch import nn

from mrissl.seqclass.augment import AugmentConfig, augment_batch, device_generator
from mrissl.seqclass import SEQUENCE_CLASSES
from mrissl.seqclass.datasets import SliceSet, epoch_order, inference_batches, iterate_batches, to_batch
from mrissl.seqclass.models import Classifier, resnet18_encoder
from mrissl.seqclass.optim import warmup_cosine
from mrissl.config import config_from_section
from mrissl.training import cpu_state, derived_seed, resolve_device

log = logging.getLogger(__name__)
HEAD_INITS = ("random", "probe")


@dataclass(frozen=True)
class FinetuneConfig:
    epochs: int = 20
    head_init: str = "random"         # random | probe: a logistic regression on the frozen pretrained encoder (LP-FT)
    batch_size: int = 64
    lr: float = 1e-3                  # AdamW, whole network, cosine decay over the run
    weight_decay: float = 1e-4
    min_steps_per_epoch: int = 10     # small label fractions cycle through their slices this often
    image_size: int = 84
    widen_factor: float = 1.0
    seed: int = 0
    device: str = "auto"
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self):
        if self.head_init not in HEAD_INITS:
            raise ValueError(f"seqclass.finetune.head_init is {self.head_init!r}; use one of {HEAD_INITS}")

    @classmethod
    def from_dict(cls, values: dict) -> FinetuneConfig:
        return config_from_section(cls, values, "seqclass.finetune")


@dataclass
class FinetuneResult:
    state: dict[str, torch.Tensor]    # the Classifier at the best validation epoch
    history: pd.DataFrame             # epoch, train_loss, val_accuracy
    best_epoch: int
    best_val_accuracy: float


@dataclass
class ClassificationMetrics:
    accuracy: float
    per_class: pd.DataFrame           # class, n, accuracy (the class's recall; NaN when absent)
    confusion: pd.DataFrame           # rows: true class, columns: predicted class


def _outputs(module: nn.Module, images: np.ndarray, image_size: int, batch_size: int,
             device: torch.device) -> np.ndarray:
    """``module`` applied to every image, in order, in evaluation mode."""
    module.eval()
    outputs = []
    with torch.no_grad(), torch.autocast(device.type, enabled=device.type == "cuda"):
        for chunk in inference_batches(images, batch_size):
            outputs.append(module(to_batch(chunk, device, image_size)).float().cpu().numpy())
    return np.concatenate(outputs)


def predict(model: nn.Module, images: np.ndarray, image_size: int, batch_size: int,
            device: torch.device) -> np.ndarray:
    """Predicted class ids of the (N, H, W) ``images``."""
    return _outputs(model, images, image_size, batch_size, device).argmax(axis=1)


def embed(encoder: nn.Module, images: np.ndarray, image_size: int = 84, batch_size: int = 256,
          device: str = "auto") -> np.ndarray:
    """(N, F) encoder features of the (N, H, W) ``images`` (F = 512 for ResNet-18), for latent plots."""
    target = resolve_device(device)
    return _outputs(encoder.to(target), images, image_size, batch_size, target)


def fit_probe_head(model: Classifier, images: np.ndarray, labels: np.ndarray, config: FinetuneConfig,
                   device: torch.device) -> None:
    """Set ``model``'s head to a multinomial logistic regression on its frozen encoder's features of
    ``images``: standardised features, L2 as scikit-learn's default (C = 1), fitted by L-BFGS over
    every class (absent ones are pushed down), the standardisation folded into the head's weights."""
    features = torch.from_numpy(_outputs(model.encoder, images, config.image_size, config.batch_size, device))
    mean, std = features.mean(0), features.std(0, unbiased=False).clamp_min(1e-6)
    standardised, targets = (features - mean) / std, torch.from_numpy(labels)
    head = nn.Linear(features.shape[1], model.head.out_features)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    optimizer = torch.optim.LBFGS(head.parameters(), max_iter=1000, tolerance_grad=1e-6,
                                  line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(head(standardised), targets) + head.weight.square().sum() / (2 * len(targets))
        loss.backward()
        return loss

    optimizer.step(objective)
    with torch.no_grad():
        model.head.weight.copy_(head.weight / std)
        model.head.bias.copy_(head.bias - (head.weight * mean / std).sum(1))


def finetune(train: SliceSet, train_rows: np.ndarray, val: SliceSet, config: FinetuneConfig,
             encoder_state: dict[str, torch.Tensor] | None = None,
             classes: tuple[str, ...] = SEQUENCE_CLASSES) -> FinetuneResult:
    """Train encoder + linear head on ``train_rows`` of ``train``; keep the epoch best on ``val``.

    ``encoder_state`` is a pretrained encoder; ``None`` trains from random weights (the supervised
    baseline). Ties in validation accuracy keep the earlier epoch.
    """
    device = resolve_device(config.device)
    use_amp = device.type == "cuda"
    torch.manual_seed(config.seed)  # the head (and, without a pretrained encoder, the encoder)
    encoder = resnet18_encoder(config.widen_factor)
    if encoder_state is not None:
        encoder.load_state_dict(encoder_state)
    model = Classifier(encoder, len(classes)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    train_labels = torch.tensor(train.labels(classes), device=device)
    val_labels = val.labels(classes)
    n_steps = max(math.ceil(len(train_rows) / config.batch_size), config.min_steps_per_epoch)
    scheduler = warmup_cosine(optimizer, 0, config.epochs * n_steps)
    history, best_state, best_epoch, best_accuracy = [], None, 0, -1.0

    def validate(epoch: int, train_loss: float, began: float) -> None:
        nonlocal best_state, best_epoch, best_accuracy
        val_accuracy = float(accuracy_score(val_labels, predict(model, val.images, config.image_size,
                                                                 config.batch_size, device)))
        history.append({"epoch": epoch, "train_loss": train_loss, "val_accuracy": val_accuracy})
        if val_accuracy > best_accuracy:
            best_state, best_epoch, best_accuracy = cpu_state(model), epoch, val_accuracy
        log.info("fine-tune epoch %d/%d on %d slices: loss %.4f, val accuracy %.4f, %.1f s", epoch,
                 config.epochs, len(train_rows), train_loss, val_accuracy, time.perf_counter() - began)

    if encoder_state is not None and config.head_init == "probe":
        began = time.perf_counter()
        rows = np.sort(train_rows)
        fit_probe_head(model, train.images[rows], train.labels(classes)[rows], config, device)
        validate(0, float("nan"), began)  # epoch 0: the probe alone, a candidate like every epoch
    for epoch in range(config.epochs):
        began = time.perf_counter()
        model.train()
        generator = device_generator(device, derived_seed(config.seed, epoch))
        order = train_rows[epoch_order(len(train_rows), config.seed, epoch)]
        loss_sum = 0.0
        for rows in iterate_batches(order, config.batch_size, n_steps):
            images = augment_batch(to_batch(train.images[rows], device, config.image_size), config.augment, generator)
            with torch.autocast(device.type, enabled=use_amp):
                logits = model(images)
            loss = F.cross_entropy(logits.float(), train_labels[torch.from_numpy(rows).to(device)])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            loss_sum += loss.item()
        validate(epoch + 1, loss_sum / n_steps, began)
    return FinetuneResult(state=best_state, history=pd.DataFrame(history), best_epoch=best_epoch,
                          best_val_accuracy=best_accuracy)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray,
                           classes: tuple[str, ...] = SEQUENCE_CLASSES) -> ClassificationMetrics:
    """Accuracy, per-class accuracy and confusion matrix (scikit-learn) over the class ids 0..K-1."""
    ids = list(range(len(classes)))
    return ClassificationMetrics(
        accuracy=float(accuracy_score(y_true, y_pred)),
        per_class=pd.DataFrame({
            "class": classes,
            "n": np.bincount(y_true, minlength=len(classes)),
            "accuracy": recall_score(y_true, y_pred, labels=ids, average=None, zero_division=np.nan),
        }),
        confusion=pd.DataFrame(confusion_matrix(y_true, y_pred, labels=ids),
                               index=pd.Index(classes, name="true"), columns=list(classes)),
    )


def evaluate_classifier(state: dict[str, torch.Tensor], test: SliceSet, config: FinetuneConfig,
                        classes: tuple[str, ...] = SEQUENCE_CLASSES) -> ClassificationMetrics:
    """Metrics of the fine-tuned classifier ``state`` on the test split."""
    device = resolve_device(config.device)
    model = Classifier(resnet18_encoder(config.widen_factor), len(classes))
    model.load_state_dict(state)
    predicted = predict(model.to(device), test.images, config.image_size, config.batch_size, device)
    return classification_metrics(test.labels(classes), predicted, classes)
