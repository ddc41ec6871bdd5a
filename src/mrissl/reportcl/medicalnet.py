"""MedicalNet weights for the image encoder: a user's checkpoint, or a MedicalNet-like init made here.

- ``load_medicalnet_checkpoint``: a MedicalNet ``resnet_18.pth`` (Chen et al. 2019, "Med3D"):
  unwraps ``state_dict``, strips the ``module.`` prefix of DataParallel, drops the segmentation
  head ``conv_seg``, and loads conv1/bn1/layer1-4 into ``models.ImageEncoder``, failing with the
  names of missing, unexpected or mis-shaped keys (MedicalNet's own loader drops them silently).
  The self-attention block is not in MedicalNet and keeps its init (gamma = 0: an identity).
- ``pretrain_segmentation``: no MedicalNet weights can be downloaded here, so the "MedicalNet"
  baseline is the same encoder pretrained with supervision on a segmentation task of another
  phantom cohort, as MedicalNet was (on 3D segmentation): brain tissue (CSF, grey and white matter)
  of the MNI152 template that nilearn ships (``mrissl.phantoms.anatomy.mni_tissue_maps``), each
  volume randomly deformed (MONAI ``RandAffine``), given random tissue contrasts, a bias field and
  noise, z-scored over the brain. The decoder is MedicalNet's ``conv_seg`` (transposed conv, two
  convs), logits upsampled to the volume; the whole encoder is trained, as in MedicalNet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
import torch.nn.functional as F

from mrissl.config import config_from_section
from mrissl.reportcl.models import ImageEncoder

log = logging.getLogger(__name__)

ENCODER_MODULES = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")
TISSUE_CLASSES = ("background", "csf", "grey_matter", "white_matter")


def medicalnet_state(checkpoint: dict) -> dict[str, torch.Tensor]:
    """The encoder part of a MedicalNet checkpoint: ``state_dict`` unwrapped, ``module.`` stripped,
    ``conv_seg`` dropped."""
    state = checkpoint.get("state_dict", checkpoint)
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if not key.startswith("conv_seg."):
            out[key] = value
    return out


def load_medicalnet_checkpoint(encoder: ImageEncoder, path: Path | str) -> None:
    """Load a MedicalNet ``resnet_*.pth`` into ``encoder``; every encoder weight must be there."""
    state = medicalnet_state(torch.load(path, map_location="cpu", weights_only=True))
    expected = {k: v for k, v in encoder.state_dict().items() if k.split(".")[0] in ENCODER_MODULES}
    optional = {k for k in expected if k.endswith("num_batches_tracked")}   # absent from old checkpoints
    missing = sorted(set(expected) - set(state) - optional)
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
                        if k in state and state[k].shape != v.shape)
    if missing or unexpected or mismatched:
        raise ValueError(f"{path}: not a MedicalNet checkpoint of this encoder (width and depth must match): "
                         f"missing keys {missing}, unexpected keys {unexpected}, mismatched shapes {mismatched}")
    encoder.load_state_dict(state, strict=False)
    log.info("loaded %d MedicalNet tensors from %s", len(state), path)


@dataclass(frozen=True)
class SegmentationConfig:
    n_volumes: int = 64               # phantom volumes of the segmentation task
    epochs: int = 4
    batch_size: int = 8
    lr: float = 1e-3
    seed: int = 0


class SegmentationNet(nn.Module):
    """Encoder (conv1-layer4) + MedicalNet's ``conv_seg`` decoder, logits at the input's size."""

    def __init__(self, encoder: ImageEncoder, n_classes: int = len(TISSUE_CLASSES)):
        super().__init__()
        self.encoder = encoder
        c = encoder.channels[3]
        self.conv_seg = nn.Sequential(
            nn.ConvTranspose3d(c, 32, 2, stride=2), nn.BatchNorm3d(32), nn.ReLU(inplace=True),
            nn.Conv3d(32, 32, 3, padding=1, bias=False), nn.BatchNorm3d(32), nn.ReLU(inplace=True),
            nn.Conv3d(32, n_classes, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.encoder
        h = e.maxpool(e.act(e.bn1(e.conv1(x))))
        h = e.layer4(e.layer3(e.layer2(e.layer1(h))))
        return F.interpolate(self.conv_seg(h), size=x.shape[2:], mode="trilinear", align_corners=False)


def tissue_phantoms(n: int, shape: tuple[int, int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random brain volumes (float32, z-scored over the brain) and their tissue labels (uint8)."""
    from monai.transforms import RandAffined, Resized

    from mrissl.phantoms.anatomy import mni_tissue_maps

    maps = mni_tissue_maps()
    brain = maps["mask"] > 0.5
    box = tuple(slice(i.min(), i.max() + 1) for i in np.nonzero(brain))
    gm, wm, mask = (maps[k][box] for k in ("gm", "wm", "mask"))
    csf = np.clip(mask - gm - wm, 0, 1)
    fractions = np.stack([1 - mask, csf, gm, wm]).astype(np.float32)
    resize = Resized(["f"], spatial_size=shape, mode="trilinear")
    fractions = np.asarray(resize({"f": fractions})["f"])
    affine = RandAffined(["f"], prob=1.0, rotate_range=(0.2, 0.2, 0.2), scale_range=(0.1, 0.1, 0.1),
                         translate_range=(3, 3, 2), mode="bilinear", padding_mode="zeros")
    affine.set_random_state(seed)
    rng = np.random.default_rng(seed)
    images = np.zeros((n, *shape), np.float32)
    labels = np.zeros((n, *shape), np.uint8)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    for k in range(n):
        f = np.asarray(affine({"f": fractions})["f"])
        f[0] += 1e-3 * (f.sum(0) < 1e-3)   # outside the field of view: background
        contrast = np.concatenate([[0.0], rng.uniform(0.1, 1.0, 3)])
        image = np.tensordot(contrast, f, axes=1)
        bias = np.exp(0.3 * np.tensordot(rng.normal(size=3), grid, axes=1))
        image = image * bias + rng.normal(0, rng.uniform(0.01, 0.05), image.shape)
        label = f.argmax(0).astype(np.uint8)
        inside = label > 0
        image = np.where(inside, (image - image[inside].mean()) / (image[inside].std() + 1e-6), 0.0)
        images[k], labels[k] = image, label
    return images, labels


def pretrain_segmentation(encoder: ImageEncoder, shape: tuple[int, int, int], config: SegmentationConfig,
                          device: torch.device) -> pd.DataFrame:
    """Train ``encoder`` (all layers, batch norm included) on phantom tissue segmentation, in place.

    Returns one row per epoch: loss (cross-entropy) and mean foreground Dice on the training volumes.
    """
    from monai.metrics import compute_dice

    torch.manual_seed(config.seed)
    images, labels = tissue_phantoms(config.n_volumes, tuple(shape), config.seed)
    net = SegmentationNet(encoder).to(device)
    net.requires_grad_(True)
    nn.Module.train(net)          # MedicalNet trains every layer: bypass the encoder's frozen stem
    for m in net.modules():
        m.training = True
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr)
    rng = np.random.default_rng(config.seed)
    rows = []
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(len(images))
        losses, dices = [], []
        for start in range(0, len(order), config.batch_size):
            idx = np.sort(order[start:start + config.batch_size])
            x = torch.from_numpy(images[idx])[:, None].to(device)
            y = torch.from_numpy(labels[idx]).long().to(device)
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                pred = F.one_hot(logits.argmax(1), len(TISSUE_CLASSES)).permute(0, 4, 1, 2, 3)
                truth = F.one_hot(y, len(TISSUE_CLASSES)).permute(0, 4, 1, 2, 3)
                dices.append(compute_dice(pred, truth, include_background=False).nanmean().item())
            losses.append(loss.item())
        rows.append({"epoch": epoch, "loss": float(np.mean(losses)), "dice": float(np.mean(dices))})
        log.info("segmentation epoch %d: loss %.4f dice %.3f", epoch, rows[-1]["loss"], rows[-1]["dice"])
    encoder.freeze_stem()
    encoder.train(False)
    return pd.DataFrame(rows)


def segmentation_config(section: dict) -> SegmentationConfig:
    return config_from_section(SegmentationConfig, section, "reportcl.medicalnet_like")


__all__ = ["SegmentationConfig", "SegmentationNet", "load_medicalnet_checkpoint", "medicalnet_state",
           "pretrain_segmentation", "segmentation_config", "tissue_phantoms"]


def medicalnet_init(width: float, dropout: float, volume_shape: tuple[int, int, int], checkpoint: str | None,
                    settings: dict, seed: int, device: torch.device) -> tuple[dict[str, torch.Tensor], pd.DataFrame]:
    """The "MedicalNet" image-encoder init: a user's MedicalNet checkpoint when ``checkpoint`` names one,
    else the MedicalNet-like segmentation pretraining (``settings``: ``SegmentationConfig`` keys).
    Returns the encoder state dict and a per-epoch table whose ``source`` column says which was used."""
    torch.manual_seed(seed)
    encoder = ImageEncoder(width, dropout)
    if checkpoint:
        load_medicalnet_checkpoint(encoder, checkpoint)
        metrics = pd.DataFrame({"epoch": [0], "loss": [float("nan")], "dice": [float("nan")]})
        source = f"MedicalNet checkpoint {Path(checkpoint).name}"
    else:
        config = config_from_section(SegmentationConfig, settings, "reportcl.medicalnet_like", seed=seed)
        metrics = pretrain_segmentation(encoder, tuple(volume_shape), config, device)
        source = "MedicalNet-like: phantom brain tissue segmentation"
    state = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
    return state, metrics.assign(source=source)
