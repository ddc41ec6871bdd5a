"""The contrastive losses of SimCLR and SimSiam, written out (no library provides them as such).

All losses compute in float32 whatever the autocast dtype of their inputs: exponentials of
cosine/temperature overflow float16 for small temperatures. Under a process group (several GPUs)
each rank passes its shard of the batch; losses and monitors are those of the whole batch, the same
on every rank (``mrissl.contrastive``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mrissl.contrastive import gather_batch, mean_over_ranks, sum_over_ranks


def _pair_logits(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine similarities / temperature of this rank's 2n anchors (its first views, then its second
    views) to all 2N views of the whole batch (every rank's first views, then every rank's second
    views), self-pairs masked out; and each anchor's positive (its other view). One process: n = N."""
    firsts, rows = gather_batch(z1)
    seconds, _ = gather_batch(z2)
    views = F.normalize(torch.cat([firsts, seconds]).float(), dim=1)
    n_pairs = len(firsts)
    items = torch.arange(rows.start, rows.stop, device=views.device)
    anchors = torch.cat([items, items + n_pairs])
    logits = (views[anchors] @ views.T) / temperature
    self_pair = F.one_hot(anchors, 2 * n_pairs).bool()
    logits = logits.masked_fill(self_pair, float("-inf"))
    positives = torch.cat([items + n_pairs, items])
    return logits, positives


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent (SimCLR): mean over all 2N anchors of -log softmax of the positive among the 2N-1 others.

    ``z1[i]`` and ``z2[i]`` are projections of two views of image i, shape (N, D), not normalised.
    Under a process group each rank passes its shard of the pairs, gets the loss of the whole batch,
    and the other ranks' views are its negatives too (``mrissl.contrastive``).
    """
    logits, positives = _pair_logits(z1, z2, temperature)
    return sum_over_ranks(F.cross_entropy(logits, positives, reduction="sum") / logits.shape[1])


@torch.no_grad()
def contrastive_top1(z1: torch.Tensor, z2: torch.Tensor) -> float:
    """Fraction of the 2N anchors (of the whole batch) whose most similar other view is their positive."""
    logits, positives = _pair_logits(z1, z2, 1.0)
    return sum_over_ranks((logits.argmax(dim=1) == positives).float().sum() / logits.shape[1]).item()


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """D(p, z) of SimSiam: minus the mean cosine similarity (over the whole batch), the gradient stopped at z."""
    return mean_over_ranks(-F.cosine_similarity(p.float(), z.detach().float(), dim=1).mean())


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Symmetric SimSiam loss 0.5 * D(p1, sg(z2)) + 0.5 * D(p2, sg(z1)); -1 is its minimum."""
    return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)


@torch.no_grad()
def normalised_std(z: torch.Tensor) -> float:
    """Per-dimension std of the L2-normalised outputs (of the whole batch), averaged: ~1/sqrt(D) when
    healthy, 0 when collapsed.

    The collapse monitor of the SimSiam paper (Fig. 2).
    """
    return F.normalize(gather_batch(z)[0].float(), dim=1).std(dim=0).mean().item()
