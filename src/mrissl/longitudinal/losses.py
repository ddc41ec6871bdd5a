"""Losses of the longitudinal Siamese network (paper 002, sections 2.2-2.3).

- ``contrastive_loss``: Chopra, Hadsell & LeCun (CVPR 2005), as the paper writes it,
  ``L_C = sum_n y d^2 + (1 - y) max(0, m - d)^2`` with ``d = ||a_n - b_n||_2`` of the FC7 embeddings;
  here the mean over the N pairs (the sum divided by N: only the learning rate's scale changes).
- ``balanced_class_weights`` and ``level_loss``: the auxiliary VB-level softmax log loss with the
  class-balanced weights ``alpha_c`` (SpineNet, Jamaludin et al. 2016), reduced the same way:
  ``-(1/N) sum_n alpha_c (y_c(x_n) - log sum_j exp y_j(x_n))``.

Models never import this module.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def pair_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``||a_n - b_n||_2`` per row, exactly 0 for equal rows, with a finite gradient there.

    ``sqrt`` has an infinite derivative at 0 (and ``(a - b) / d`` is 0/0), so the root is taken only
    of the positive squared distances (the double-``where`` that keeps NaN out of the backward
    pass); at ``d = 0`` the distance is 0 and its gradient 0.
    """
    squared = (a - b).pow(2).sum(dim=1)
    positive = squared > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, squared, torch.ones_like(squared))),
                       torch.zeros_like(squared))


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over the N pairs of ``same * d^2 + (1 - same) * max(0, margin - d)^2``.

    ``a``, ``b``: (N, D) embeddings of the two volumes of each pair; ``same``: (N,) 1 for a positive
    pair (one subject at two time points), 0 for a negative one (two people); ``d``: ``pair_distance``.
    The positive term uses the squared distance itself, so its gradient is ``2 (a - b)`` everywhere.
    """
    same = same.to(a.dtype)
    squared = (a - b).pow(2).sum(dim=1)
    hinge = torch.clamp(margin - pair_distance(a, b), min=0.0)
    return (same * squared + (1.0 - same) * hinge.pow(2)).mean()


def balanced_class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``alpha_c = N / (K * N_c)``: every class weighs the same in total (scikit-learn's "balanced");
    a class absent from ``labels`` gets weight 0."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(float)
    weights = np.zeros(n_classes)
    present = counts > 0
    weights[present] = len(labels) / (present.sum() * counts[present])
    return weights


def level_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Class-weighted softmax log loss, summed over the N rows and divided by N (not by the sum of
    the weights, as ``F.cross_entropy(weight=...)`` would)."""
    per_row = F.cross_entropy(logits, labels, reduction="none")
    if weights is not None:
        per_row = per_row * weights.to(per_row.dtype)[labels]
    return per_row.mean()
