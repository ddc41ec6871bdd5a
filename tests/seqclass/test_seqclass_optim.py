"""SimCLR's LARS (biases and norms excluded) and the warm-up + cosine schedule, against hand-computed steps."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mrissl.seqclass.models import SimCLR, resnet18_encoder
from mrissl.seqclass.optim import LARS, excluded_from_lars, pretraining_optimizer, warmup_cosine


def test_lars_excludes_biases_and_norms():
    model = SimCLR(resnet18_encoder(0.125))
    excluded = excluded_from_lars(model)
    for name, param in model.named_parameters():
        is_norm_or_bias = name.endswith(".bias") or ".bn" in name or "downsample.1." in name
        assert (name in excluded) == is_norm_or_bias, name
    optimizer = pretraining_optimizer(model, "lars", lr=0.3, weight_decay=1e-6)
    adapted, plain = optimizer.param_groups
    assert adapted["lars"] and adapted["weight_decay"] == 1e-6
    assert not plain["lars"] and plain["weight_decay"] == 0.0
    assert len(adapted["params"]) + len(plain["params"]) == len(list(model.parameters()))
    assert all(p.ndim > 1 for p in adapted["params"]) and all(p.ndim == 1 for p in plain["params"])


def test_lars_step_matches_hand_computation():
    weight = nn.Parameter(torch.tensor([3.0, 4.0]))          # ||w|| = 5
    bias = nn.Parameter(torch.tensor([1.0]))
    optimizer = LARS([{"params": [weight]}, {"params": [bias], "lars": False, "weight_decay": 0.0}],
                     lr=2.0, momentum=0.9, weight_decay=0.1, eta=0.01)
    weight.grad = torch.tensor([0.0, 1.0])
    bias.grad = torch.tensor([0.5])
    optimizer.step()
    grad = torch.tensor([0.3, 1.4])                            # g + 0.1 w
    trust = 0.01 * 5.0 / math.hypot(0.3, 1.4)
    torch.testing.assert_close(weight.detach(), torch.tensor([3.0, 4.0]) - 2.0 * trust * grad)
    torch.testing.assert_close(bias.detach(), torch.tensor([1.0 - 2.0 * 0.5]))  # plain SGD, no decay

    # Second step: momentum 0.9 carries the first velocity.
    first_velocity = 2.0 * trust * grad
    w1 = weight.detach().clone()
    weight.grad = torch.tensor([0.0, 1.0])
    optimizer.step()
    grad2 = torch.tensor([0.0, 1.0]) + 0.1 * w1
    trust2 = 0.01 * torch.linalg.vector_norm(w1) / torch.linalg.vector_norm(grad2)
    torch.testing.assert_close(weight.detach(), w1 - (0.9 * first_velocity + 2.0 * trust2 * grad2))


def test_zero_weight_gets_trust_one():
    weight = nn.Parameter(torch.zeros(2))
    optimizer = LARS([weight], lr=0.5, weight_decay=0.0)
    weight.grad = torch.tensor([1.0, -1.0])
    optimizer.step()
    torch.testing.assert_close(weight.detach(), torch.tensor([-0.5, 0.5]))


def test_warmup_then_cosine():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = warmup_cosine(optimizer, warmup_steps=4, total_steps=12)
    lrs = []
    for _ in range(12):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4:] == pytest.approx([0.5 * (1 + math.cos(math.pi * k / 8)) for k in range(8)])
    with pytest.raises(ValueError, match="warm-up"):
        warmup_cosine(optimizer, warmup_steps=12, total_steps=12)


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="adam"):
        pretraining_optimizer(nn.Linear(2, 2), "adam", lr=0.1, weight_decay=0.0)
