"""Networks of MRI-report contrastive learning (paper 001): image encoder, text encoder, heads.

- ``ImageEncoder``: MONAI's 3D ResNet-18 (``monai.networks.nets.resnet18``, shortcut A) in
  MedicalNet's layout and layer names (``conv1, bn1, layer1-4``), with MedicalNet's dilated last
  two modules (layer3 dilation 2, layer4 dilation 4, stride 1: the last module's grid is 1/8 of the
  volume, as in MedicalNet's ``resnet_18``), dropout after each module but the last, and a
  self-attention block on layer4 (query/key/value as 1x1x1 3D convolutions keeping the channels,
  residual ``gamma * out + x`` with gamma starting at 0; SAGAN). Layers conv1-layer2 are frozen:
  no gradient and eval mode (batch norm running statistics, dropout off), so their output
  (``stem``) is the same every epoch and is computed once per volume (``trunk`` runs the rest).
  Global embedding: the pooled self-attention output; local features: layer3's output; attention
  map: the attention each last-module position receives, averaged over the queries.
- ``TextEncoder``: a ``transformers`` encoder (``mrissl.text_encoders``), all layers frozen but the
  last ``n_trainable`` (paper: two). ``frozen_states`` computes the frozen part once per report;
  ``trainable_states`` runs the last layers. Global text embedding: CLS; local: one vector per word,
  sub-word tokens summed, grouped with the fast tokenizer's ``word_ids()`` (``word_index``).
- ``ProjectionHead`` (Linear-ReLU-Linear), ``CrossAttention`` (the local alignment, both ways),
  ``MarkerClassifier`` (the downstream FC head 512-256-1 on the image encoder).

Models never import losses (``mrissl.reportcl.losses``).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

FROZEN_MODULES = ("conv1", "bn1", "layer1", "layer2")
TRAINABLE_MODULES = ("layer3", "layer4", "attention")
BASE_WIDTHS = (64, 128, 256, 512)


class SelfAttention3d(nn.Module):
    """SAGAN self-attention on a 3D feature map: ``gamma * softmax(q^T k) v + x``, gamma from 0.

    ``forward`` returns the output and the (B, N, N) attention (row: query, column: key position).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.query = nn.Conv3d(channels, channels, 1)
        self.key = nn.Conv3d(channels, channels, 1)
        self.value = nn.Conv3d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, c = x.shape[:2]
        q = self.query(x).flatten(2).transpose(1, 2)              # (B, N, C)
        k = self.key(x).flatten(2)                                 # (B, C, N)
        v = self.value(x).flatten(2)                               # (B, C, N)
        attention = torch.softmax(q @ k, dim=-1)                   # (B, N, N)
        out = (v @ attention.transpose(1, 2)).view_as(x)
        return self.gamma * out + x, attention


def _dilate(layer: nn.Sequential, dilation: int, downsample) -> None:
    """MedicalNet's layer3/layer4: stride 1 and the given dilation in every 3x3x3 convolution."""
    for n, block in enumerate(layer):
        for conv in (block.conv1, block.conv2):
            conv.stride = (1, 1, 1)
            conv.dilation = (dilation,) * 3
            conv.padding = (dilation,) * 3
        if n == 0 and block.downsample is not None:
            block.downsample = downsample
        block.stride = 1


class ImageEncoder(nn.Module):
    """3D ResNet-18 (MedicalNet layout, shortcut A) + self-attention on the last module.

    ``width`` scales every module's channels (1.0: 64-128-256-512, MedicalNet's ``resnet_18``).
    """

    def __init__(self, width: float = 1.0, dropout: float = 0.25):
        super().__init__()
        from monai.networks.nets import resnet18

        net = resnet18(spatial_dims=3, n_input_channels=1, shortcut_type="A", conv1_t_stride=2,
                       widen_factor=width, feed_forward=False, bias_downsample=False)
        self.channels = tuple(int(c * width) for c in BASE_WIDTHS)
        for name in ("conv1", "bn1", "act", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            setattr(self, name, getattr(net, name))
        # shortcut A without striding: zero-padded channels (MONAI's own block, stride 1)
        _dilate(self.layer3, 2, partial(net._downsample_basic_block, planes=self.channels[2], stride=1))
        _dilate(self.layer4, 4, partial(net._downsample_basic_block, planes=self.channels[3], stride=1))
        self.drop = nn.Dropout(dropout)
        self.attention = SelfAttention3d(self.channels[3])
        self.freeze_stem()

    def freeze_stem(self) -> None:
        for name in FROZEN_MODULES:
            getattr(self, name).requires_grad_(False)

    def train(self, mode: bool = True) -> ImageEncoder:
        """Train mode for the trainable modules only: the frozen stem stays in eval mode."""
        super().train(mode)
        for name in FROZEN_MODULES:
            getattr(self, name).eval()
        return self

    def stem(self, volumes: torch.Tensor) -> torch.Tensor:
        """Frozen conv1-layer2 output of (B, 1, D, H, W) volumes: the same every epoch (no gradient)."""
        with torch.no_grad():
            x = self.maxpool(self.act(self.bn1(self.conv1(volumes))))
            x = self.layer1(x)
            # dropout after layer1 belongs to the frozen part, which runs in eval mode (identity)
            return self.layer2(x)

    def trunk(self, stem: torch.Tensor) -> dict[str, torch.Tensor]:
        """The trainable part on stem features: ``local`` (layer3), ``features`` (attended layer4),
        ``global`` (pooled), ``attention`` ((B, N, N) self-attention weights)."""
        local = self.layer3(self.drop(stem))
        features, attention = self.attention(self.layer4(self.drop(local)))
        return {"local": local, "features": features, "global": features.mean(dim=(2, 3, 4)),
                "attention": attention}

    def forward(self, volumes: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.trunk(self.stem(volumes))


def received_attention(attention: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
    """The attention each position receives, averaged over the queries: (B, N, N) -> (B, *grid)."""
    return attention.mean(dim=1).reshape(attention.shape[0], *grid)


def trainable_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class ProjectionHead(nn.Module):
    """Linear-ReLU-Linear projection to the common embedding size (paper: 512)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, out_features), nn.ReLU(), nn.Linear(out_features, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CrossAttention(nn.Module):
    """Queries of one modality over the keys/values of the other, for every (query item, key item)
    pair of a batch: returns the attention-weighted counterparts, (B_q, B_k, Nq, D).

    Scaled dot-product attention with learned query/key/value projections; padded keys masked.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = self.query(queries), self.key(keys), self.value(keys)
        scores = torch.einsum("ird,jwd->ijrw", q, k) / math.sqrt(q.shape[-1])
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask.bool()[None, :, None, :], float("-inf"))
        return torch.einsum("ijrw,jwd->ijrd", torch.softmax(scores, dim=-1), v)


def pairwise_local_similarity(local: torch.Tensor, counterparts: torch.Tensor,
                              mask: torch.Tensor | None = None) -> torch.Tensor:
    """(B, B) mean cosine similarity between item i's local vectors (B, N, D) and their counterparts
    weighted by item j of the other modality (B, B, N, D), over i's (unmasked) positions."""
    cos = F.cosine_similarity(local[:, None], counterparts, dim=-1)            # (B, B, N)
    if mask is None:
        return cos.mean(dim=-1)
    m = mask.to(cos.dtype)[:, None, :]
    return (cos * m).sum(-1) / m.sum(-1).clamp_min(1)


# --- text ---------------------------------------------------------------------------------------

def word_index(tokenizer, texts: list[str], max_length: int) -> np.ndarray:
    """(N, max_length) int32: the word each token belongs to (fast tokenizer ``word_ids()``), -1 for
    special and padding tokens; tokenised exactly as ``reports.tokenise`` does."""
    batch = tokenizer(texts, padding="max_length", truncation=True, max_length=max_length)
    out = np.full((len(texts), max_length), -1, np.int32)
    for n in range(len(texts)):
        ids = batch.word_ids(n)
        out[n] = [-1 if w is None else w for w in ids]
    return out


def group_words(token_states: torch.Tensor, word_ids: torch.Tensor, n_words: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum the sub-word token vectors (B, T, D) of each word: (B, n_words, D) and a word mask (B, n_words)."""
    b, _, d = token_states.shape
    ids = word_ids.long()
    valid = (ids >= 0) & (ids < n_words)
    index = torch.where(valid, ids, torch.full_like(ids, n_words))              # dump slot for the rest
    words = token_states.new_zeros(b, n_words + 1, d).scatter_add(1, index[..., None].expand(-1, -1, d), token_states)
    mask = torch.zeros(b, n_words + 1, dtype=torch.bool, device=ids.device).scatter(1, index, valid)
    return words[:, :n_words], mask[:, :n_words]


class TextEncoder(nn.Module):
    """A BERT-family ``transformers`` encoder with all but its last ``n_trainable`` layers frozen
    (0: all frozen, the whole encoder is computed once per report; a CPU demo setting)."""

    def __init__(self, model: nn.Module, n_trainable: int = 2):
        super().__init__()
        object.__setattr__(self, "model", model)  # not a submodule: checkpoints hold only the trainable layers
        layers = model.encoder.layer
        if not 0 <= n_trainable <= len(layers):
            raise ValueError(f"n_trainable must be 0..{len(layers)}, got {n_trainable}")
        self.n_frozen = len(layers) - n_trainable
        self.layers = nn.ModuleList(layers[self.n_frozen:])
        model.requires_grad_(False)
        self.layers.requires_grad_(True)
        self.width = model.config.hidden_size

    @staticmethod
    def additive_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min

    def frozen_states(self, token_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Hidden states after the frozen layers (B, T, width), in eval mode without gradient."""
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            out = self.model(input_ids=token_ids.long(), attention_mask=attention_mask.long(), output_hidden_states=True)
        self.model.train(was_training)
        return out.hidden_states[self.n_frozen]

    def trainable_states(self, states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = self.additive_mask(attention_mask, states.dtype)
        for layer in self.layers:
            out = layer(states, mask)
            states = out[0] if isinstance(out, tuple) else out
        return states

    def forward(self, states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.trainable_states(states, attention_mask)


# --- the two models -------------------------------------------------------------------------------

class ReportCL(nn.Module):
    """Image encoder, text encoder (trainable layers), global heads, local projections, cross-attention."""

    def __init__(self, image: ImageEncoder, text: TextEncoder, embed_dim: int = 512, local_dim: int | None = None,
                 local_pool: tuple[int, int, int] = (1, 1, 1)):
        super().__init__()
        local_dim = local_dim or embed_dim
        self.local_pool = tuple(local_pool)   # layer3 regions averaged over these blocks (1, 1, 1: every voxel)
        self.image = image
        self.text = text
        self.image_head = ProjectionHead(image.channels[3], embed_dim)
        self.text_head = ProjectionHead(text.width, embed_dim)
        self.region_projection = nn.Linear(image.channels[2], local_dim)
        self.word_projection = nn.Linear(text.width, local_dim)
        self.regions_over_words = CrossAttention(local_dim)
        self.words_over_regions = CrossAttention(local_dim)

    def forward(self, stem, text_states, attention_mask, word_ids, n_words: int) -> dict[str, torch.Tensor]:
        image = self.image.trunk(stem)
        tokens = self.text(text_states, attention_mask)
        words, word_mask = group_words(tokens, word_ids, n_words)
        local = image["local"]
        if self.local_pool != (1, 1, 1):
            local = F.avg_pool3d(local, self.local_pool, ceil_mode=True)
        regions = self.region_projection(local.flatten(2).transpose(1, 2))             # (B, R, E)
        words = self.word_projection(words)                                             # (B, W, E)
        region_counterparts = self.regions_over_words(regions, words, word_mask)        # (B, B, R, E)
        word_counterparts = self.words_over_regions(words, regions)                     # (B, B, W, E)
        return {
            "image": self.image_head(image["global"]),
            "text": self.text_head(tokens[:, 0]),
            "region_similarity": pairwise_local_similarity(regions, region_counterparts),
            "word_similarity": pairwise_local_similarity(words, word_counterparts, word_mask),
        }


class MarkerClassifier(nn.Module):
    """The downstream model: image encoder + FC head (paper Table 7: 512-256-1, at width 1)."""

    def __init__(self, image: ImageEncoder, dropout: float = 0.25):
        super().__init__()
        self.image = image
        c = image.channels[3]
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c, c // 2), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(c // 2, 1))

    def forward(self, stem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B,) for V600E and the self-attention weights (B, N, N)."""
        out = self.image.trunk(stem)
        return self.head(out["global"]).squeeze(1), out["attention"]
