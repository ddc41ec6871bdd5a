"""The ResNet-18 encoder and the SimCLR / SimSiam / classifier heads around it."""

from __future__ import annotations

from pathlib import Path

import torch
from monai.networks.nets import resnet18
from torch import nn

from mrissl.seqclass.losses import nt_xent_loss, simsiam_loss


def resnet18_encoder(widen_factor: float = 1.0) -> nn.Module:
    """MONAI 2D ResNet-18 on one-channel slices, without its classification layer.

    ``conv1_t_stride=2`` matches torchvision's ResNet-18 (MONAI defaults to 1, ~4x slower for the
    same input). The weights are channels-last (NHWC): oneDNN's faster layout on a CPU (a training
    step at width 0.125 takes ~25% less, inference ~35%) and the one cuDNN's tensor cores take under
    AMP; one-channel input batches are channels-last as they are. The output is the pooled feature
    vector, ``512 * widen_factor`` wide.
    """
    encoder = resnet18(spatial_dims=2, n_input_channels=1, conv1_t_stride=2,
                       widen_factor=widen_factor, feed_forward=False)
    return encoder.to(memory_format=torch.channels_last)


def feature_dim(encoder: nn.Module) -> int:
    """Width of the encoder's pooled features (MONAI leaves it in ``in_planes`` after building)."""
    return encoder.in_planes


class SimCLR(nn.Module):
    """Encoder + 2-layer projection head (Chen et al. 2020); loss NT-Xent over both views."""

    def __init__(self, encoder: nn.Module, projection_dim: int = 128, temperature: float = 0.5):
        super().__init__()
        width = feature_dim(encoder)
        self.encoder = encoder
        self.projector = nn.Sequential(nn.Linear(width, width), nn.ReLU(inplace=True),
                                       nn.Linear(width, projection_dim))
        self.temperature = temperature

    def forward(self, view1: torch.Tensor, view2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, z1, z2). Both views go through one pass, so batch norm sees all 2N images."""
        z = self.projector(self.encoder(torch.cat([view1, view2])))
        z1, z2 = z.chunk(2)
        return nt_xent_loss(z1, z2, self.temperature), z1, z2


class SimSiam(nn.Module):
    """Encoder + 3-layer projector + 2-layer bottleneck predictor (Chen & He 2021)."""

    def __init__(self, encoder: nn.Module, projection_dim: int = 2048, predictor_hidden_dim: int = 512):
        super().__init__()
        width = feature_dim(encoder)
        self.encoder = encoder
        self.projector = nn.Sequential(
            nn.Linear(width, projection_dim, bias=False), nn.BatchNorm1d(projection_dim), nn.ReLU(inplace=True),
            nn.Linear(projection_dim, projection_dim, bias=False), nn.BatchNorm1d(projection_dim),
            nn.ReLU(inplace=True),
            nn.Linear(projection_dim, projection_dim, bias=False), nn.BatchNorm1d(projection_dim, affine=False),
        )
        self.predictor = nn.Sequential(
            nn.Linear(projection_dim, predictor_hidden_dim, bias=False), nn.BatchNorm1d(predictor_hidden_dim),
            nn.ReLU(inplace=True), nn.Linear(predictor_hidden_dim, projection_dim),
        )

    def forward(self, view1: torch.Tensor, view2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, z1, z2); each view is its own batch-norm batch, as in the SimSiam code."""
        z1 = self.projector(self.encoder(view1))
        z2 = self.projector(self.encoder(view2))
        return simsiam_loss(self.predictor(z1), self.predictor(z2), z1, z2), z1, z2


class Classifier(nn.Module):
    """Encoder + linear layer over the sequence classes (the fine-tuned model)."""

    def __init__(self, encoder: nn.Module, n_classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(feature_dim(encoder), n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(images))


def pretraining_model(method: str, encoder: nn.Module, temperature: float) -> nn.Module:
    """The SimCLR or SimSiam model around ``encoder``."""
    if method == "simclr":
        return SimCLR(encoder, temperature=temperature)
    if method == "simsiam":
        return SimSiam(encoder)
    raise ValueError(f"unknown pretraining method {method!r}; use 'simclr' or 'simsiam'")


def load_encoder(path: Path | str, widen_factor: float = 1.0) -> nn.Module:
    """An encoder from a saved state dict: an encoder's own, or a classifier's (keys 'encoder.*')."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if any(key.startswith("encoder.") for key in state):
        state = {key.removeprefix("encoder."): value for key, value in state.items() if key.startswith("encoder.")}
    encoder = resnet18_encoder(widen_factor)
    try:
        encoder.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{path}: not a ResNet-18 encoder with widen_factor={widen_factor}: {err}") from err
    return encoder
