"""The Siamese network's losses (paper 002, 2.2-2.3) against values worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mrissl.longitudinal.losses import balanced_class_weights, contrastive_loss, level_loss, pair_distance

# Five pairs, margin 2: a positive at d = 0 (term 0), a positive at d = 5 (25), a negative inside the
# margin at d = 1 ((2 - 1)^2 = 1), a negative beyond it at d = 5 (0), a negative at d = 0 ((2 - 0)^2 = 4).
A = [[0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
B = [[0.0, 0.0], [0.0, 0.0], [0.6, 0.8], [3.0, 4.0], [1.0, 1.0]]
SAME = [1, 1, 0, 0, 0]


def test_contrastive_loss_by_hand():
    a = torch.tensor(A, requires_grad=True)
    b = torch.tensor(B)
    loss = contrastive_loss(a, b, torch.tensor(SAME), 2.0)
    assert loss.item() == pytest.approx((0 + 25 + 1 + 0 + 4) / 5)
    loss.backward()
    assert torch.isfinite(a.grad).all()
    expected = torch.tensor([
        [0.0, 0.0],                 # positive at d = 0: 2 (a - b) / N = 0
        [1.2, 1.6],                 # positive: 2 (a - b) / N = 2 (3, 4) / 5
        [0.24, 0.32],               # negative inside: -2 (m - d) / N * (a - b) / d = -2 * 1 / 5 * (-0.6, -0.8)
        [0.0, 0.0],                 # negative beyond the margin
        [0.0, 0.0],                 # negative at d = 0: the distance's gradient is defined as 0 there
    ])
    assert torch.allclose(a.grad, expected, atol=1e-6)


def test_contrastive_loss_single_terms():
    zero = torch.zeros(1, 3)
    far = torch.tensor([[0.0, 0.0, 0.5]])
    assert contrastive_loss(zero, far, torch.tensor([1]), 1.0).item() == pytest.approx(0.25)   # d^2
    assert contrastive_loss(zero, far, torch.tensor([0]), 1.0).item() == pytest.approx(0.25)   # (1 - 0.5)^2
    assert contrastive_loss(zero, far, torch.tensor([0]), 0.4).item() == pytest.approx(0.0)    # beyond


def test_pair_distance_exact_and_finite_at_zero():
    a = torch.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    b = torch.tensor([[1.0, 2.0], [0.0, 3.0]])
    d = pair_distance(a, b)
    assert d.tolist() == [0.0, 5.0]
    d.sum().backward()
    assert torch.isfinite(a.grad).all()
    assert torch.allclose(a.grad, torch.tensor([[0.0, 0.0], [0.6, -0.8]]))
    # The same as torch's own distance away from zero.
    x, y = torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), torch.randn(6, 4)
    assert torch.allclose(pair_distance(x, y), F.pairwise_distance(x, y, eps=0.0), atol=1e-6)


def test_balanced_class_weights():
    assert np.allclose(balanced_class_weights(np.array([0, 0, 0, 1]), 2), [4 / 6, 2.0])
    assert np.allclose(balanced_class_weights(np.array([0, 2, 2]), 3), [1.5, 0.0, 0.75])


def test_level_loss_weighted_mean_over_rows():
    logits = torch.zeros(2, 2)
    labels = torch.tensor([0, 1])
    # Each row's log loss is ln 2; weights 1 and 3 over N = 2 rows: (1 + 3) ln 2 / 2 (not ln 2, torch's
    # weighted mean over the sum of the weights).
    assert level_loss(logits, labels, torch.tensor([1.0, 3.0])).item() == pytest.approx(2 * math.log(2))
    assert F.cross_entropy(logits, labels, weight=torch.tensor([1.0, 3.0])).item() == pytest.approx(math.log(2))
    assert level_loss(logits, labels).item() == pytest.approx(math.log(2))
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    expected = -(2.0 - math.log(math.exp(2) + 1 + math.exp(-1)))
    assert level_loss(logits, torch.tensor([0])).item() == pytest.approx(expected)
