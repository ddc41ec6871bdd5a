"""In-batch contrastive losses shared by several studies, and the gathering of a batch split over ranks.

``clip_loss`` is the symmetric InfoNCE of CLIP (Radford et al. 2021, Listing 1; paper 003, Listing 1):
with L2-normalised image features I and text features T of the same N pairs, logits = s * I @ T.T
where s = exp(learned log-temperature) is the multiplier; the loss is the mean of the cross-entropy
of each image over the N texts and of each text over the N images, the matching pair on the diagonal.
clip uses it as its training loss, reportcl as the "contrastive instead of triplet" ablation.
Computed in float32 whatever the autocast dtype of the inputs.

**Several ranks** (``mrissl.training``: one process per GPU, each holding an equal shard of the batch,
shards in rank order). An in-batch loss needs every rank's items as negatives. As open_clip's
``gather_features`` with ``gather_with_grad=True, local_loss=True`` (its recommended setting), each rank
gathers the whole batch with gradient (``gather_batch``) and computes only the terms anchored at its own
items, its *share* of the whole batch's loss (their sum over its anchors divided by the number of
anchors of the whole batch); ``sum_over_ranks`` returns the whole batch's loss, the same value on every
rank, with the gradient of the share. The gather's backward sums over the ranks the gradients that each
rank's share leaves on a rank's items, so every rank's embeddings get exactly the gradient of the whole
batch's loss (not world-size times it: the scaling of open_clip issue #616), and DistributedDataParallel
must sum the ranks' parameter gradients, as ``training.distributed_model`` does. Without a process group
all of this is the plain loss of the batch. There are no flags: gathering without gradient would drop
the other ranks' terms from a rank's gradient, and computing every anchor on every rank only repeats work.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from mrissl.training import all_gather_with_grad, process_rank, world_size


def gather_batch(local: torch.Tensor) -> tuple[torch.Tensor, slice]:
    """The whole batch from this rank's (n, ...) shard ``local``: every rank's shard in rank order, with
    gradient; and the rows of this rank's items in it."""
    first = process_rank() * len(local)
    return all_gather_with_grad(local), slice(first, first + len(local))


def sum_over_ranks(share: torch.Tensor) -> torch.Tensor:
    """The sum over the ranks of each rank's scalar ``share`` (the same value on every rank), with the
    gradient of this rank's ``share`` alone."""
    if world_size() == 1:
        return share
    total = share.detach().clone()
    dist.all_reduce(total)
    return share + (total - share.detach())


def mean_over_ranks(local_mean: torch.Tensor) -> torch.Tensor:
    """The mean over the whole batch of a per-item loss from this rank's mean over its (equal) shard:
    the same value on every rank, with the gradient of this rank's share ``local_mean / world_size``."""
    return sum_over_ranks(local_mean / world_size())


def clip_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor | float) -> torch.Tensor:
    """Symmetric InfoNCE of N matching (image, text) pairs, (N, D) each; ``logit_scale`` the multiplier exp(s).

    Under a process group each rank passes its shard of the pairs and gets the loss of the whole batch.
    """
    images, rows = gather_batch(F.normalize(image_features.float(), dim=1))
    texts, _ = gather_batch(F.normalize(text_features.float(), dim=1))
    targets = torch.arange(rows.start, rows.stop, device=images.device)
    image_to_texts = F.cross_entropy(logit_scale * images[rows] @ texts.T, targets, reduction="sum")
    text_to_images = F.cross_entropy(logit_scale * texts[rows] @ images.T, targets, reduction="sum")
    return sum_over_ranks(0.5 * (image_to_texts + text_to_images) / len(images))
