"""The paper's VGG-M variant for VB/IVD volumes (paper 002, section 2.4, Figs. 4 and 7).

VGG-M (Chatfield et al. 2014: conv 96-256-512-512-512, FC 4096-4096) turned 3D for a sagittal stack
of ``S`` slices (9 in the paper): Conv1-Conv3 are 3D with a slice kernel of 3, slice stride 1 and
slice padding 1, so every slice is kept; Conv4's kernel spans all ``S`` slices (3 x 3 x S, no
padding) and collapses the slice axis; Conv5 is 2D. Pooling is 2 x 2 in-plane max pooling. FC7 is
the embedding (1024 in the paper) and FC8 the classifier (the 7 VB levels in the Siamese network,
the grades in the grading network).

Tensors are ``(N, 1, S, rows, cols)`` (torch's ``(N, C, D, H, W)``); a volume stored as
``(rows, cols, S)`` (``mrissl.longitudinal.vertebrae``) goes through ``as_network_input``.

``width`` scales every layer's channels (1.0 is the paper's), ``fc_width`` FC6/FC7 (1024 in the
paper), ``conv1_stride`` is VGG-M's in-plane stride of Conv1 (2), and ``conv4_padding`` Conv4's
in-plane padding (0 in the paper; a CPU demo on 64 px VBs and 32 x 64 px IVDs, the paper's sizes at
0.29x, needs 1, else Conv4 has no 3 x 3 window left on an IVD). Batch normalisation after every
convolution stands in for VGG-M's local response normalisation (``batch_norm``).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

VGGM_CHANNELS = (96, 256, 512, 512, 512)


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """Shape of the network (``longitudinal.network`` in the config)."""

    width: float = 1.0            # channel multiplier of conv1-conv5 (1.0: 96, 256, 512, 512, 512)
    fc_width: int = 1024          # FC6 and FC7 (the embedding); the paper's FC7 is 1024-dimensional
    conv1_stride: int = 2         # VGG-M's in-plane stride of conv1
    dropout: float = 0.0          # after FC6 and FC7 (VGG-M uses 0.5 with 4096-wide layers)
    conv4_padding: int = 0        # in-plane padding of conv4 (the paper's 0; 1 keeps small demo volumes usable)
    batch_norm: bool = True       # after every convolution, in place of VGG-M's local response normalisation

    def channels(self) -> tuple[int, ...]:
        return tuple(max(4, int(round(c * self.width))) for c in VGGM_CHANNELS)


def as_network_input(volumes: torch.Tensor) -> torch.Tensor:
    """``(N, rows, cols, S)`` stored volumes -> ``(N, 1, S, rows, cols)`` float32 network input."""
    return volumes.float().permute(0, 3, 1, 2).unsqueeze(1).contiguous()


class VGGMFeatures(nn.Module):
    """Conv1-Conv5 (the transferred part): ``(N, 1, S, H, W)`` -> ``(N, C5, H', W')``."""

    def __init__(self, n_slices: int, config: NetworkConfig = NetworkConfig()):
        super().__init__()
        c1, c2, c3, c4, c5 = config.channels()
        s = config.conv1_stride
        self.n_slices = n_slices

        def block(conv: nn.Module, *pool: nn.Module) -> nn.Sequential:
            norm = (nn.BatchNorm3d if isinstance(conv, nn.Conv3d) else nn.BatchNorm2d)(conv.out_channels)
            return nn.Sequential(conv, *([norm] if config.batch_norm else []), nn.ReLU(inplace=True), *pool)

        self.conv1 = block(nn.Conv3d(1, c1, (3, 7, 7), stride=(1, s, s), padding=(1, 3, 3)), nn.MaxPool3d((1, 2, 2)))
        self.conv2 = block(nn.Conv3d(c1, c2, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2)), nn.MaxPool3d((1, 2, 2)))
        self.conv3 = block(nn.Conv3d(c2, c3, 3, padding=1))
        # 3 x 3 x S without padding along the slices: the slice axis goes from S to 1.
        self.conv4 = block(nn.Conv3d(c3, c4, (n_slices, 3, 3), padding=(0, config.conv4_padding, config.conv4_padding)))
        self.conv5 = block(nn.Conv2d(c4, c5, 3, padding=1), nn.MaxPool2d(2, ceil_mode=True))  # a 1-pixel edge kept
        self.out_channels = c5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] != self.n_slices:
            raise ValueError(f"input has {x.shape[2]} slices, the network was built for {self.n_slices}")
        x = self.conv4(self.conv3(self.conv2(self.conv1(x))))
        return self.conv5(x.squeeze(2))

    def output_shape(self, rows: int, cols: int) -> tuple[int, int, int]:
        training = self.training
        self.eval()  # batch norm in training mode cannot take one volume
        with torch.no_grad():
            out = self(torch.zeros(1, 1, self.n_slices, rows, cols))
        self.train(training)
        return tuple(out.shape[1:])


class VGGMNet(nn.Module):
    """Features, FC6, FC7 (the embedding: FC7's output before its ReLU) and FC8 (``n_classes`` logits).

    ``forward`` returns ``(embedding, logits)``; the Siamese network is this module applied to both
    volumes of a pair (shared weights).
    """

    def __init__(self, volume_shape: tuple[int, int, int], n_classes: int, config: NetworkConfig = NetworkConfig()):
        super().__init__()
        rows, cols, n_slices = volume_shape
        self.features = VGGMFeatures(n_slices, config)
        flat = int(torch.tensor(self.features.output_shape(rows, cols)).prod())
        self.fc6 = nn.Sequential(nn.Flatten(), nn.Linear(flat, config.fc_width), nn.ReLU(inplace=True),
                                 nn.Dropout(config.dropout))
        self.fc7 = nn.Linear(config.fc_width, config.fc_width)
        self.fc8 = nn.Sequential(nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(config.fc_width, n_classes))

    def head(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """FC6-FC8 on conv features (used directly when the convolutions are frozen)."""
        embedding = self.fc7(self.fc6(features))
        return embedding, self.fc8(embedding)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.features(x))

    def reset_head(self, seed: int) -> None:
        """New random FC6-FC8 (the transfer of section 4.2 keeps only the convolutions)."""
        torch.manual_seed(seed)
        for layer in (self.fc6, self.fc7, self.fc8):
            for module in layer.modules():
                if isinstance(module, nn.Linear):
                    module.reset_parameters()
