"""The CLIP-style model of study ``clip`` (paper 003, sections 4.1-4.3, Listing 1).

* Image encoder: the contracting path of a 3D U-Net (MONAI's ``BasicUNet`` blocks: a double
  convolution, then max-pool + double convolution per level), its last output flattened and
  connected to a fully connected layer (paper 4.2; the authors took Wolny et al.'s blocks). Only
  the image side and the two heads are trained. ``in_plane_pool`` average-pools the input in-plane
  before the first block (1 = the paper's; the CPU demo uses 2: a quarter of the voxels).
* Text side: the frozen encoder's CLS features, computed once (``mrissl.clip.text``), standardised by
  the training reports' mean and std (``standardize_text``; not in the paper, see
  ``ClipModel.set_text_statistics``), go through a trainable linear layer (paper 4.1: "a new
  additional layer").
* Projections of both to ``projection_dim`` (256), L2-normalised, and a learned temperature s used
  as the multiplier exp(s) of the similarities (Listing 1). The default is OpenAI CLIP's: s starts
  at log(1/0.07) and is clamped to [0, ln 100] after each optimiser step; the authors' code starts
  at s = 1 with no clamp (``temperature_init: 1.0, temperature_clamp: null``).

Models never import losses: the training loop combines them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from monai.networks.nets.basic_unet import Down, TwoConv
from torch import nn

from mrissl.config import config_from_section

CLIP_TEMPERATURE_INIT = math.log(1 / 0.07)
CLIP_TEMPERATURE_CLAMP = (0.0, math.log(100.0))


@dataclass(frozen=True)
class ModelConfig:
    """``clip.model`` of the config."""

    features: tuple[int, ...] = (16, 32, 64, 128, 256)  # channels per U-Net level (Wolny's f_maps = 64: 64..512)
    in_plane_pool: int = 1              # average-pool the input in-plane by this factor (1 = paper)
    norm: str = "batch"                 # MONAI norm name of the blocks: batch | instance | group ...
    image_dim: int = 512                # the fully connected layer after the flattened encoder output
    text_dim: int = 512                 # the trainable layer after the frozen text encoder
    projection_dim: int = 256           # the joint space (paper: 256)
    dropout: float = 0.0
    standardize_text: bool = True       # centre and scale the frozen features by the training reports' statistics
    temperature_init: float = CLIP_TEMPERATURE_INIT          # s at the start; the multiplier is exp(s)
    temperature_clamp: tuple[float, float] | None = CLIP_TEMPERATURE_CLAMP  # bounds of s after each step

    @classmethod
    def from_config(cls, section: dict) -> ModelConfig:
        return config_from_section(cls, section, "clip.model")

    def __post_init__(self):
        if len(self.features) < 2:
            raise ValueError(f"clip.model.features needs at least two levels, got {self.features}")
        if self.temperature_clamp is not None and self.temperature_clamp[0] > self.temperature_clamp[1]:
            raise ValueError(f"clip.model.temperature_clamp {self.temperature_clamp} is not [low, high]")


def _norm(name: str) -> tuple | str:
    return ("instance", {"affine": True}) if name == "instance" else (name, {}) if name != "group" else (
        "group", {"num_groups": 4})


class UNetEncoder(nn.Module):
    """Contracting path of a 3D U-Net, flattened, then a fully connected layer to ``config.image_dim``."""

    def __init__(self, config: ModelConfig, in_channels: int, volume_shape: tuple[int, int, int]):
        super().__init__()
        norm, act = _norm(config.norm), ("LeakyReLU", {"negative_slope": 0.1, "inplace": True})
        f = config.features
        self.pool = nn.AvgPool3d((config.in_plane_pool, config.in_plane_pool, 1)) if config.in_plane_pool > 1 else nn.Identity()
        blocks = [TwoConv(3, in_channels, f[0], act, norm, True, config.dropout)]
        blocks += [Down(3, a, b, act, norm, True, config.dropout) for a, b in zip(f[:-1], f[1:])]
        self.blocks = nn.Sequential(*blocks)
        pooled = [volume_shape[0] // config.in_plane_pool, volume_shape[1] // config.in_plane_pool, volume_shape[2]]
        if min(pooled) // 2 ** (len(f) - 1) == 0:
            raise ValueError(f"volumes of {tuple(volume_shape)} vanish after {len(f) - 1} poolings "
                             f"(in-plane pool {config.in_plane_pool}); use fewer clip.model.features levels")
        with torch.no_grad():
            flat = self.blocks(self.pool(torch.zeros(1, in_channels, *volume_shape))).numel()
        self.fc = nn.Linear(flat, config.image_dim)

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.blocks(self.pool(volumes)), 1))


class ClipModel(nn.Module):
    """Image encoder + text layer, projections to the joint space, learned temperature (Listing 1)."""

    def __init__(self, config: ModelConfig, in_channels: int, volume_shape: tuple[int, int, int], text_features: int):
        super().__init__()
        self.config = config
        self.image_encoder = UNetEncoder(config, in_channels, volume_shape)
        self.text_layer = nn.Linear(text_features, config.text_dim)
        self.image_projection = nn.Linear(config.image_dim, config.projection_dim)
        self.text_projection = nn.Linear(config.text_dim, config.projection_dim)
        self.temperature = nn.Parameter(torch.tensor(float(config.temperature_init)))
        # Statistics of the frozen features over the training reports (set_text_statistics; saved with the weights).
        self.register_buffer("text_mean", torch.zeros(text_features))
        self.register_buffer("text_scale", torch.ones(text_features))

    @torch.no_grad()
    def set_text_statistics(self, features: torch.Tensor) -> None:
        """Standardise the frozen features with the mean and std of ``features`` (the training reports).

        The CLS features of one encoder share a large common direction (MiniLM: cosine 0.76 between any
        two of the phantom's reports); the trainable layer then sees nearly one input, and the symmetric
        InfoNCE settles at log(batch) with every embedding alike. Centring removes it.
        """
        if self.config.standardize_text:
            self.text_mean.copy_(features.mean(0))
            self.text_scale.copy_(features.std(0).clamp_min(1e-6))

    def encode_image(self, volumes: torch.Tensor) -> torch.Tensor:
        """L2-normalised image embeddings (N, projection_dim)."""
        return F.normalize(self.image_projection(self.image_encoder(volumes)), dim=-1)

    def encode_text(self, cls_features: torch.Tensor) -> torch.Tensor:
        """L2-normalised text embeddings (N, projection_dim) from the frozen encoder's CLS features."""
        standardized = (cls_features - self.text_mean) / self.text_scale
        return F.normalize(self.text_projection(self.text_layer(standardized)), dim=-1)

    def logit_scale(self) -> torch.Tensor:
        """The multiplier exp(s) of the cosine similarities."""
        return self.temperature.exp()

    def forward(self, volumes: torch.Tensor, cls_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_image(volumes), self.encode_text(cls_features)

    @torch.no_grad()
    def clamp_temperature_(self) -> None:
        """Keep s inside ``temperature_clamp`` (call after each optimiser step; a no-op without a clamp)."""
        if self.config.temperature_clamp is not None:
            self.temperature.clamp_(*self.config.temperature_clamp)


class ImageClassifier(nn.Module):
    """The image-only baseline: the same encoder and a linear layer over the classes."""

    def __init__(self, config: ModelConfig, in_channels: int, volume_shape: tuple[int, int, int], n_classes: int):
        super().__init__()
        self.image_encoder = UNetEncoder(config, in_channels, volume_shape)
        self.head = nn.Sequential(nn.LeakyReLU(0.1), nn.Dropout(config.dropout), nn.Linear(config.image_dim, n_classes))

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        return self.head(self.image_encoder(volumes))
