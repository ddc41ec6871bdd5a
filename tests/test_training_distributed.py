"""Several training processes (gloo, 2 CPU processes): a batch split over the ranks trains as one process
on the whole batch: the clip loss and its gradients, and, with batch norm synchronised and the ranks'
gradients summed, a model's gradients and running statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from conftest import every_rank, on_two_ranks, own_rows
from mrissl.contrastive import clip_loss
from mrissl.training import distributed_model, shard

pytestmark = pytest.mark.usefixtures("process_server")
TOLERANCE = dict(rtol=0, atol=1e-5)
MODEL_TOLERANCE = dict(rtol=1e-5, atol=1e-5)  # float32 gradients of a network, summed in another order
BATCH = 8


def clip_loss_and_gradients(images: torch.Tensor, texts: torch.Tensor, log_scale: float):
    """The clip loss of this rank's shard of the pairs, and the gradients of the features and the scale."""
    image_features = images[own_rows(len(images))].clone().requires_grad_()
    text_features = texts[own_rows(len(texts))].clone().requires_grad_()
    scale = torch.tensor(log_scale, requires_grad=True)
    loss = clip_loss(image_features, text_features, scale.exp())
    loss.backward()
    return loss.detach(), image_features.grad, text_features.grad, scale.grad


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 5))


def model_step(inputs: torch.Tensor, texts: torch.Tensor):
    """One forward/backward of the tiny model (image side of the clip loss) on this rank's shard."""
    model = tiny_model()
    net = distributed_model(model)
    rows = own_rows(len(inputs))
    loss = clip_loss(net(inputs[rows]), texts[rows], 10.0)
    loss.backward()
    return (loss.detach(), {name: p.grad for name, p in model.named_parameters()},
            {name: b.clone() for name, b in model.named_buffers()})


@pytest.fixture(scope="module")
def data():
    generator = torch.Generator().manual_seed(1)
    return {"images": torch.randn(BATCH, 7, generator=generator), "texts": torch.randn(BATCH, 7, generator=generator),
            "inputs": torch.randn(BATCH, 6, generator=generator) * 3 + 1,
            "text_embeddings": torch.randn(BATCH, 5, generator=generator)}


def both_checks(data: dict):
    return every_rank((clip_loss_and_gradients(data["images"], data["texts"], 2.0),
                       model_step(data["inputs"], data["text_embeddings"])))


@pytest.fixture(scope="module")
def ranks(data):
    """Both checks in one pair of processes (starting them is what costs): [per rank] for each check."""
    per_rank = on_two_ranks(both_checks, data)
    return [[rank[check] for rank in per_rank] for check in range(2)]


def test_clip_loss_split_over_two_ranks_equals_one_process(data, ranks):
    loss, image_grad, text_grad, scale_grad = clip_loss_and_gradients(data["images"], data["texts"], 2.0)
    per_rank = ranks[0]
    for rank_loss, *_ in per_rank:
        torch.testing.assert_close(rank_loss, loss, **TOLERANCE)  # the whole batch's loss on every rank
    # Each rank's features get exactly their rows of the one-process gradient: not twice it (open_clip #616).
    torch.testing.assert_close(torch.cat([r[1] for r in per_rank]), image_grad, **TOLERANCE)
    torch.testing.assert_close(torch.cat([r[2] for r in per_rank]), text_grad, **TOLERANCE)
    # A parameter used by both ranks (the temperature): the ranks' gradients add up to the one-process one.
    torch.testing.assert_close(per_rank[0][3] + per_rank[1][3], scale_grad, **TOLERANCE)


def test_model_with_synchronised_batch_norm_gets_the_one_process_gradients(data, ranks):
    model = tiny_model()
    loss = clip_loss(model(data["inputs"]), data["text_embeddings"], 10.0)
    loss.backward()
    for rank_loss, grads, buffers in ranks[1]:
        torch.testing.assert_close(rank_loss, loss.detach(), **TOLERANCE)
        for name, p in model.named_parameters():
            torch.testing.assert_close(grads[name], p.grad, **MODEL_TOLERANCE, msg=name)  # after DDP's reduction
        for name, b in model.named_buffers():
            torch.testing.assert_close(buffers[name], b, **MODEL_TOLERANCE, msg=name)  # running statistics


@pytest.mark.parametrize("n_ranks", [1, 2, 4])
def test_shards_of_a_batch_together_are_the_batch(n_ranks):
    order = np.random.default_rng(0).permutation(40)
    batch = 8
    shards = [shard(order, rank, n_ranks).reshape(-1, batch // n_ranks) for rank in range(n_ranks)]
    for k in range(len(order) // batch):
        together = np.concatenate([s[k] for s in shards])
        assert sorted(together) == sorted(order[k * batch:(k + 1) * batch])
