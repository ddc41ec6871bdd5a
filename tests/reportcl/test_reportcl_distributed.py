"""reportcl's local InfoNCE over two processes (gloo on the CPU): each rank passes the rows of its own
items of the (N, N) similarity matrices; loss and gradients equal those of one process on all N."""

from __future__ import annotations

import pytest
import torch

from conftest import every_rank, on_two_ranks, own_rows
from mrissl.reportcl.losses import local_info_nce

pytestmark = pytest.mark.usefixtures("process_server")
TOLERANCE = dict(rtol=0, atol=1e-5)
BATCH = 8


def info_nce_and_gradients(region_similarity: torch.Tensor, word_similarity: torch.Tensor, log_scale: float):
    """local_info_nce of this rank's rows of the two matrices, the gradients of the rows and of the scale."""
    rows = own_rows(len(region_similarity))
    regions = region_similarity[rows].clone().requires_grad_()
    words = word_similarity[rows].clone().requires_grad_()
    scale = torch.tensor(log_scale, requires_grad=True)
    loss = local_info_nce(regions, words, scale.exp())
    loss.backward()
    return loss.detach(), regions.grad, words.grad, scale.grad


def on_every_rank(region_similarity, word_similarity, log_scale):
    return every_rank(info_nce_and_gradients(region_similarity, word_similarity, log_scale))


@pytest.fixture(scope="module")
def similarities():
    generator = torch.Generator().manual_seed(3)
    return 2 * torch.rand(BATCH, BATCH, generator=generator) - 1, 2 * torch.rand(BATCH, BATCH, generator=generator) - 1


def test_local_info_nce_split_over_two_ranks_equals_one_process(similarities):
    loss, region_grad, word_grad, scale_grad = info_nce_and_gradients(*similarities, 2.5)
    per_rank = on_two_ranks(on_every_rank, *similarities, 2.5)
    for rank_loss, *_ in per_rank:
        torch.testing.assert_close(rank_loss, loss, **TOLERANCE)
    # The column terms reach the other rank's rows through the gather: each rank's rows get exactly their
    # part of the one-process gradient.
    torch.testing.assert_close(torch.cat([r[1] for r in per_rank]), region_grad, **TOLERANCE)
    torch.testing.assert_close(torch.cat([r[2] for r in per_rank]), word_grad, **TOLERANCE)
    torch.testing.assert_close(per_rank[0][3] + per_rank[1][3], scale_grad, **TOLERANCE)
