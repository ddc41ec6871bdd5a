"""Losses of MRI-report contrastive learning (paper 001, Eqs. 1-3).

Distances are cosine distances, d(a, b) = 1 - cos(a, b). For a batch of B matching pairs, every
item is an anchor twice: image anchor (positive: its report, negatives: the other reports) and
text anchor (positive: its image, negatives: the other images).

**Semi-hard negative sampling** (paper, Methods): for each anchor, ``n_negatives`` of the other
B - 1 items are drawn at random without replacement, and the one closest to the anchor is its
negative; ``n_negatives = B - 1`` is hard negative mining (the closest of all).

**Global loss, Eq. 1** (``location_weighted_triplet_loss``): with s = 1 when the negative has the
anchor's tumour location (else 0) and w = 1 - (1 - location_weight) * s,

    distance weighting (authors' code):  relu(d_ap - w * d_an + margin)
    term weighting:                      w * relu(d_ap - d_an + margin)

the mean over anchors, image- and text-anchored directions averaged. (Eq. 1's body is missing from
our copy of the paper; ``distance`` is the form in the authors' public code. It halves the push on
a same-location negative but moves its zero point farther out, whereas the prose wants such pairs
to end closer; ``term`` only halves the push. ``location_weight = 1`` removes the location term.)

**Local loss, Eq. 2** (``local_triplet_loss``): the same triplets on (B, B) local similarity
matrices, S[i, j] = mean cosine similarity between item i's local vectors (image regions or report
words) and their counterparts weighted by cross-attention over item j of the other modality
(``models.pairwise_local_similarity``): rows are anchored at the original local representation
(positive: counterpart from its own pair), columns at the attention-weighted one; image and text
terms averaged.

**Total, Eq. 3** (``UncertaintyWeighting``): sum_i exp(-s_i) L_i + s_i with trainable s_i (Kendall
et al. 2018), so the weights cannot collapse to zero.

``clip_loss`` (symmetric InfoNCE, ``mrissl.contrastive``) is re-exported for the "contrastive loss"
ablation; ``local_info_nce`` is its counterpart on the local similarity matrices.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from mrissl.contrastive import clip_loss, gather_batch, sum_over_ranks

__all__ = [
    "LOCATION_WEIGHTINGS", "UncertaintyWeighting", "clip_loss", "cosine_distances", "local_info_nce",
    "local_triplet_loss", "location_term_weighted_triplet_loss", "location_weighted_triplet_loss",
    "sample_negatives", "triplet_from_distances",
]


def cosine_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, B) matrix of 1 - cos(a_i, b_j)."""
    return 1.0 - F.normalize(a.float(), dim=1) @ F.normalize(b.float(), dim=1).T


def sample_negatives(distances: torch.Tensor, n_negatives: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each row (anchor) i of (B, B) ``distances``, draw ``n_negatives`` columns j != i at random
    without replacement and return the index of the closest one (B,)."""
    b = distances.shape[0]
    if not 1 <= n_negatives <= b - 1:
        raise ValueError(f"n_negatives must be 1..{b - 1} for a batch of {b}, got {n_negatives}")
    keys = torch.rand(b, b, generator=generator, device="cpu").to(distances.device)
    keys.fill_diagonal_(float("inf"))                       # never the anchor's own pair
    candidates = keys.argsort(dim=1)[:, :n_negatives]       # a random subset of the others
    closest = distances.detach().gather(1, candidates).argmin(dim=1)
    return candidates.gather(1, closest[:, None]).squeeze(1)


def triplet_from_distances(
    distances: torch.Tensor,
    same_location: torch.Tensor | None = None,
    margin: float = 0.25,
    location_weight: float = 0.5,
    n_negatives: int = 2,
    generator: torch.Generator | None = None,
    weighting: str = "distance",
) -> torch.Tensor:
    """Triplet loss of (B, B) anchor-to-other distances (positives on the diagonal), anchored at the
    rows and at the columns, the two averaged. ``same_location``: (B, B) bool, or None for none."""
    if weighting not in ("distance", "term"):
        raise ValueError(f"weighting must be 'distance' or 'term', got {weighting!r}")
    terms = []
    for d, same in ((distances, same_location), (distances.T, None if same_location is None else same_location.T)):
        negative = sample_negatives(d, n_negatives, generator)
        rows = torch.arange(d.shape[0], device=d.device)
        d_ap, d_an = d.diagonal(), d[rows, negative]
        w = torch.ones_like(d_an)
        if same is not None:
            w = 1.0 - (1.0 - location_weight) * same[rows, negative].to(d.dtype)
        if weighting == "distance":
            loss = F.relu(d_ap - w * d_an + margin)
        else:
            loss = w * F.relu(d_ap - d_an + margin)
        terms.append(loss.mean())
    return 0.5 * (terms[0] + terms[1])


def _same_location(locations: torch.Tensor) -> torch.Tensor:
    locations = torch.as_tensor(locations)
    return locations[:, None] == locations[None, :]


def location_weighted_triplet_loss(image, text, locations, margin=0.25, location_weight=0.5, n_negatives=2,
                                   generator=None):
    """Eq. 1, distance weighting: relu(d_ap - (1 - (1 - location_weight) * same_location) * d_an + margin).

    ``image``, ``text``: (B, D) global embeddings of B pairs; ``locations``: (B,) integer location
    labels. Semi-hard negatives from ``n_negatives`` draws (``generator`` seeds them).
    """
    distances = cosine_distances(image, text)
    return triplet_from_distances(distances, _same_location(locations).to(distances.device), margin,
                                  location_weight, n_negatives, generator, "distance")


def location_term_weighted_triplet_loss(image, text, locations, margin=0.25, location_weight=0.5, n_negatives=2,
                                        generator=None):
    """Eq. 1, term weighting: (1 - (1 - location_weight) * same_location) * relu(d_ap - d_an + margin)."""
    distances = cosine_distances(image, text)
    return triplet_from_distances(distances, _same_location(locations).to(distances.device), margin,
                                  location_weight, n_negatives, generator, "term")


LOCATION_WEIGHTINGS = {"distance": location_weighted_triplet_loss, "term": location_term_weighted_triplet_loss}


def local_triplet_loss(region_similarity, word_similarity, margin=0.25, n_negatives=2, generator=None):
    """Eq. 2: triplets on the (B, B) local similarity matrices of image regions and report words,
    both anchors (original and attention-weighted), same negative sampling; the two averaged."""
    image_term = triplet_from_distances(1.0 - region_similarity.float(), None, margin, 1.0, n_negatives, generator)
    text_term = triplet_from_distances(1.0 - word_similarity.float(), None, margin, 1.0, n_negatives, generator)
    return 0.5 * (image_term + text_term)


def local_info_nce(region_similarity, word_similarity, logit_scale):
    """InfoNCE counterpart of ``local_triplet_loss``: cross-entropy of ``logit_scale * S`` both ways
    (each row over the columns and each column over the rows), the two matrices averaged.

    Under a process group each rank passes the rows of its own items, (n, N) of the whole batch's
    (N, N) matrices; they are gathered with gradient and the loss is that of the whole batch
    (``mrissl.contrastive``).
    """
    terms = []
    for rows_here in (region_similarity, word_similarity):
        s, rows = gather_batch(rows_here.float())
        logits = logit_scale * s
        targets = torch.arange(rows.start, rows.stop, device=s.device)
        over_columns = F.cross_entropy(logits[rows], targets, reduction="sum")
        over_rows = F.cross_entropy(logits.T[rows], targets, reduction="sum")
        terms.append(0.5 * (over_columns + over_rows) / len(s))
    return sum_over_ranks(0.5 * (terms[0] + terms[1]))


class UncertaintyWeighting(nn.Module):
    """Eq. 3 with trainable weights that cannot collapse: sum_i exp(-s_i) * L_i + s_i (s_i from 0)."""

    def __init__(self, n_terms: int):
        super().__init__()
        self.log_vars = nn.Parameter(torch.zeros(n_terms))

    def forward(self, losses: list[torch.Tensor]) -> torch.Tensor:
        if len(losses) != len(self.log_vars):
            raise ValueError(f"expected {len(self.log_vars)} loss terms, got {len(losses)}")
        stacked = torch.stack([loss.float() for loss in losses])
        return (torch.exp(-self.log_vars) * stacked + self.log_vars).sum()
