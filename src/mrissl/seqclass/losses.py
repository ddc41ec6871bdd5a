"""The contrastive losses of SimCLR and SimSiam, written out (no library provides them as such).

All losses compute in float32 whatever the autocast dtype of their inputs: exponentials of
cosine/temperature overflow float16 for small temperatures.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _pair_logits(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine similarities / temperature of all 2N views, self-pairs masked out; and each row's positive."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    n = z1.shape[0]
    logits = (z @ z.T) / temperature
    self_pair = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_pair, float("-inf"))
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return logits, positives


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent (SimCLR): mean over all 2N anchors of -log softmax of the positive among the 2N-1 others.

    ``z1[i]`` and ``z2[i]`` are projections of two views of image i, shape (N, D), not normalised.
    """
    logits, positives = _pair_logits(z1, z2, temperature)
    return F.cross_entropy(logits, positives)


@torch.no_grad()
def contrastive_top1(z1: torch.Tensor, z2: torch.Tensor) -> float:
    """Fraction of the 2N anchors whose most similar other view is their positive."""
    logits, positives = _pair_logits(z1, z2, 1.0)
    return (logits.argmax(dim=1) == positives).float().mean().item()


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """D(p, z) of SimSiam: minus the mean cosine similarity, with the gradient stopped at z."""
    return -F.cosine_similarity(p.float(), z.detach().float(), dim=1).mean()


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Symmetric SimSiam loss 0.5 * D(p1, sg(z2)) + 0.5 * D(p2, sg(z1)); -1 is its minimum."""
    return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)


@torch.no_grad()
def normalised_std(z: torch.Tensor) -> float:
    """Per-dimension std of the L2-normalised outputs, averaged: ~1/sqrt(D) when healthy, 0 when collapsed.

    The collapse monitor of the SimSiam paper (Fig. 2).
    """
    return F.normalize(z.float(), dim=1).std(dim=0).mean().item()
