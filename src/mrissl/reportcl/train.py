"""MRI-report contrastive pretraining (paper 001, Methods), resumable.

One pretraining on all internal image-report pairs (no marker label reaches it; the external set
never does). The image encoder starts from the MedicalNet(-like) weights (``medicalnet``); what the
frozen layers produce is computed once: conv1-layer2 per volume (the paper uses no augmentation,
and the frozen part runs in eval mode) and the frozen text layers per report. Each step runs the
trainable layers (image layer3-4 + self-attention, the last text layers), the heads and the
cross-attention, and the loss of ``PretrainConfig.loss`` / ``terms`` (``losses``):

    triplet, both:   Eq. 3 = uncertainty-weighted Eq. 1 (global, location-weighted) + Eq. 2 (local)
    terms global / local: one of them;  location_weight 1: no location term;
    loss infonce:    clip_loss (global) + local_info_nce, learnable temperature (ablation).

A run checkpoints after every epoch (``last.pt`` in its own folder: model, weighting, optimiser,
metrics, settings) and continues from there when started again with the same settings; batch order,
negative draws and dropout come from generators seeded by (seed, epoch), so a resumed run on CPU
ends with the weights of an uninterrupted one.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from mrissl.config import config_from_section
from mrissl.reportcl.losses import LOCATION_WEIGHTINGS, UncertaintyWeighting, clip_loss, local_info_nce, local_triplet_loss
from mrissl.reportcl.models import ImageEncoder, ReportCL, TextEncoder, word_index
from mrissl.vocabulary import LOCATIONS
from mrissl.training import derived_seed, load_checkpoint, resolve_device, save_atomically

log = logging.getLogger(__name__)

METRIC_COLUMNS = ["epoch", "loss", "global", "local", "weight_global", "weight_local", "seconds"]


@dataclass(frozen=True)
class PretrainConfig:
    width: float = 1.0                # image encoder width (1.0: MedicalNet's resnet_18)
    dropout: float = 0.25             # Table 8
    embed_dim: int = 512              # common size of the heads' output
    local_dim: int = 512              # size of the local (region, word) vectors and cross-attention
    local_pool: tuple[int, int, int] = (1, 1, 1)   # layer3 regions averaged over blocks of this size
    text_trainable_layers: int = 2    # the last layers of the text encoder that train (0: all frozen)
    epochs: int = 400                 # paper text 400, Table 8 tuned 340
    batch_size: int = 16
    lr: float = 1e-4                  # AdamW
    weight_decay: float = 1e-2
    margin: float = 0.25
    location_weight: float = 0.5
    location_weighting: str = "distance"   # distance (authors' code) | term
    n_negatives: int = 2              # semi-hard sampling size (15 in a batch of 16: hard)
    loss: str = "triplet"             # triplet | infonce
    terms: str = "both"               # both | global | local
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        if self.location_weighting not in LOCATION_WEIGHTINGS:
            raise ValueError(f"location_weighting must be one of {sorted(LOCATION_WEIGHTINGS)}")
        if self.loss not in ("triplet", "infonce") or self.terms not in ("both", "global", "local"):
            raise ValueError(f"loss must be triplet|infonce and terms both|global|local, got {self.loss}, {self.terms}")
        if not 1 <= self.n_negatives < self.batch_size:
            raise ValueError(f"n_negatives {self.n_negatives} must be 1..batch_size-1 ({self.batch_size - 1})")

    @classmethod
    def from_dict(cls, values: dict, where: str = "reportcl.pretrain", **fixed) -> PretrainConfig:
        return config_from_section(cls, values, where, **fixed)


def location_codes(locations) -> np.ndarray:
    order = {name: n for n, name in enumerate(LOCATIONS)}
    return np.array([order[str(v)] for v in locations], np.int64)


def compute_stems(encoder: ImageEncoder, images: np.ndarray, device: torch.device, batch_size: int = 16) -> torch.Tensor:
    """The frozen conv1-layer2 output of every (N, D, H, W) volume, once (float32, on the CPU)."""
    encoder.to(device).train(False)
    out = []
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(np.asarray(images[start:start + batch_size], np.float32))[:, None].to(device)
        out.append(encoder.stem(x).cpu())
    return torch.cat(out)


def text_cache(text: TextEncoder, token_ids: np.ndarray, attention: np.ndarray, device: torch.device,
               batch_size: int = 32) -> torch.Tensor:
    """Hidden states after the frozen text layers, per report, cut to the longest report (float32, CPU)."""
    length = int(attention.sum(1).max())
    text.model.to(device)
    out = []
    for start in range(0, len(token_ids), batch_size):
        ids = torch.from_numpy(token_ids[start:start + batch_size, :length].astype(np.int64)).to(device)
        mask = torch.from_numpy(attention[start:start + batch_size, :length].astype(np.int64)).to(device)
        out.append(text.frozen_states(ids, mask).float().cpu())
    return torch.cat(out)


@dataclass
class PretrainData:
    """What the frozen layers produce for each image-report pair, computed once (``frozen_outputs``)."""
    stems: torch.Tensor           # (N, C, d, h, w) conv1-layer2 output of the pair's volume
    text_states: torch.Tensor     # (N, T, width) hidden states after the frozen text layers
    attention: torch.Tensor       # (N, T) token mask
    word_ids: torch.Tensor        # (N, T) word of each token, -1 for special/padding tokens
    locations: torch.Tensor       # (N,) location codes

    def save(self, path: Path | str) -> None:
        save_atomically({k: v.contiguous() for k, v in dataclasses.asdict(self).items()}, Path(path))

    @classmethod
    def load(cls, path: Path | str) -> PretrainData:
        return cls(**torch.load(path, map_location="cpu", weights_only=True))


def frozen_outputs(images: np.ndarray, index: pd.DataFrame, reports: pd.DataFrame, token_ids: np.ndarray,
                   attention: np.ndarray, encoder: ImageEncoder, text_model: nn.Module, tokenizer,
                   text_trainable_layers: int, device: torch.device) -> PretrainData:
    """Pairs of the cleaned-report table (its ``row`` is the image row): the frozen image stem of each
    volume (``encoder``'s conv1-layer2) and the frozen text layers' output of each report, once."""
    rows = reports["row"].to_numpy(int)
    location = index.set_index("row").loc[rows, "location"].to_numpy()
    text = TextEncoder(text_model, text_trainable_layers)
    states = text_cache(text, np.asarray(token_ids), np.asarray(attention), device)
    length = states.shape[1]
    words = word_index(tokenizer, reports["text"].tolist(), np.asarray(token_ids).shape[1])
    return PretrainData(
        stems=compute_stems(encoder, np.asarray(images[rows]), device),
        text_states=states.half(),
        attention=torch.from_numpy(np.asarray(attention)[:, :length].astype(np.int64)),
        word_ids=torch.from_numpy(words[:, :length].astype(np.int64)),
        locations=torch.from_numpy(location_codes(location)),
    )


def build_model(config: PretrainConfig, text_model: nn.Module, encoder_state: dict | None) -> ReportCL:
    image = ImageEncoder(config.width, config.dropout)
    if encoder_state is not None:
        image.load_state_dict(encoder_state)
    text = TextEncoder(copy.deepcopy(text_model), config.text_trainable_layers)   # the caller's model stays as it is
    return ReportCL(image, text, config.embed_dim, config.local_dim, config.local_pool)


def _terms(config: PretrainConfig, out: dict, locations: torch.Tensor, generator: torch.Generator,
           logit_scale: nn.Parameter) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    g = l = None
    if config.terms in ("both", "global"):
        if config.loss == "triplet":
            g = LOCATION_WEIGHTINGS[config.location_weighting](
                out["image"], out["text"], locations, config.margin, config.location_weight, config.n_negatives, generator)
        else:
            g = clip_loss(out["image"], out["text"], logit_scale.exp())
    if config.terms in ("both", "local"):
        if config.loss == "triplet":
            l = local_triplet_loss(out["region_similarity"], out["word_similarity"], config.margin,
                                   config.n_negatives, generator)
        else:
            l = local_info_nce(out["region_similarity"], out["word_similarity"], logit_scale.exp())
    return g, l


@dataclass
class PretrainResult:
    metrics: pd.DataFrame
    encoder: dict[str, torch.Tensor]     # the image encoder's state dict after training


def pretrain(data: PretrainData, text_model: nn.Module, encoder_state: dict | None, config: PretrainConfig,
             checkpoint_dir: Path | str) -> PretrainResult:
    """``data`` holds the frozen layers' outputs under ``encoder_state`` (the init) and
    ``config.text_trainable_layers``; ``text_model`` supplies the trainable text layers."""
    """Contrastive pretraining of the image (and text) encoder; resumes from ``checkpoint_dir``."""
    device = resolve_device(config.device)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model = build_model(config, text_model, encoder_state).to(device)
    n_terms = 2 if config.terms == "both" else 1
    weighting = UncertaintyWeighting(n_terms).to(device)
    logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07), device=device))
    params = [p for p in model.parameters() if p.requires_grad] + list(weighting.parameters())
    if config.loss == "infonce":
        params.append(logit_scale)
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)

    stems, states, attention, word_ids, locations = (
        data.stems, data.text_states.float(), data.attention, data.word_ids, data.locations)
    if len(stems) < config.batch_size:
        raise ValueError(f"{len(stems)} image-report pairs, fewer than one batch of {config.batch_size}")

    settings = dataclasses.asdict(config)
    rows: list[dict] = []
    start_epoch = 1
    last = checkpoint_dir / "last.pt"
    state = load_checkpoint(last, settings, device)
    if state is not None:
        model.load_state_dict(state["model"])
        weighting.load_state_dict(state["weighting"])
        logit_scale.data.copy_(state["logit_scale"])
        optimiser.load_state_dict(state["optimiser"])
        rows = [dict(zip(METRIC_COLUMNS, r)) for r in state["metrics"]]
        start_epoch = len(rows) + 1
        log.info("resuming %s at epoch %d", checkpoint_dir, start_epoch)

    for epoch in range(start_epoch, config.epochs + 1):
        tic = time.perf_counter()
        torch.manual_seed(derived_seed(config.seed, epoch, 1))
        generator = torch.Generator().manual_seed(derived_seed(config.seed, epoch, 2))
        order = torch.randperm(len(stems), generator=generator)
        model.train()
        sums = {"loss": 0.0, "global": 0.0, "local": 0.0}
        n_batches = len(order) // config.batch_size                  # drop_last: every batch has B - 1 negatives
        for b in range(n_batches):
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            mask = attention[idx]
            cut = int(mask.sum(1).max())
            wid = word_ids[idx, :cut]
            out = model(stems[idx].to(device), states[idx, :cut].to(device), mask[:, :cut].to(device),
                        wid.to(device), int(wid.max()) + 1)
            g, l = _terms(config, out, locations[idx].to(device), generator, logit_scale)
            loss = weighting([t for t in (g, l) if t is not None])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            sums["loss"] += loss.item()
            sums["global"] += g.item() if g is not None else float("nan")
            sums["local"] += l.item() if l is not None else float("nan")
        w = torch.exp(-weighting.log_vars.detach()).cpu().tolist()
        rows.append({"epoch": epoch, **{k: v / n_batches for k, v in sums.items()},
                     "weight_global": w[0] if config.terms != "local" else float("nan"),
                     "weight_local": w[-1] if config.terms != "global" else float("nan"),
                     "seconds": time.perf_counter() - tic})
        log.info("epoch %d: loss %.4f global %.4f local %.4f (%.1f s)", epoch, rows[-1]["loss"], rows[-1]["global"],
                 rows[-1]["local"], rows[-1]["seconds"])
        save_atomically({"model": model.state_dict(), "weighting": weighting.state_dict(), "logit_scale": logit_scale.data,
                         "optimiser": optimiser.state_dict(), "config": settings,
                         "metrics": [[r[c] for c in METRIC_COLUMNS] for r in rows]}, last)
    encoder = {k: v.detach().cpu().clone() for k, v in model.image.state_dict().items()}
    return PretrainResult(pd.DataFrame(rows, columns=METRIC_COLUMNS), encoder)
