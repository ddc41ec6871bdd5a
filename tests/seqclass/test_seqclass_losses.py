"""The SimCLR and SimSiam losses against values worked out by hand on 2 x 2 examples."""

from __future__ import annotations

import math

import pytest
import torch

from mrissl.seqclass.losses import contrastive_top1, nt_xent_loss, simsiam_loss


def test_nt_xent_matches_hand_computation():
    # Two images, two 2-D views each, deliberately not unit length (the loss must normalise):
    #   a1 = z1[0] = (2, 0)      -> (1, 0)
    #   a2 = z1[1] = (0, 3)      -> (0, 1)
    #   b1 = z2[0] = (sqrt3, 1)  -> (sqrt3/2, 1/2)   positive of a1
    #   b2 = z2[1] = (0, -1)     -> (0, -1)          positive of a2
    # Cosines: a1.a2 = 0, a1.b1 = sqrt3/2, a1.b2 = 0, a2.b1 = 1/2, a2.b2 = -1, b1.b2 = -1/2.
    # Temperature 0.5 doubles them; each anchor's loss is -log(e^pos / sum over the 3 others):
    c = math.sqrt(3)  # 2 * sqrt3/2
    loss_a1 = -c + math.log(math.exp(c) + math.exp(0) + math.exp(0))    # = 0.30295
    loss_a2 = 2 + math.log(math.exp(-2) + math.exp(0) + math.exp(1))    # = 3.34901
    loss_b1 = -c + math.log(math.exp(c) + math.exp(1) + math.exp(-1))   # = 0.43568
    loss_b2 = 2 + math.log(math.exp(-2) + math.exp(0) + math.exp(-1))   # = 2.40761
    by_hand = (loss_a1 + loss_a2 + loss_b1 + loss_b2) / 4                # mean over 2N = 4 anchors
    assert by_hand == pytest.approx(1.62381, abs=1e-5)

    z1 = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    z2 = torch.tensor([[math.sqrt(3), 1.0], [0.0, -1.0]])
    assert nt_xent_loss(z1, z2, temperature=0.5).item() == pytest.approx(by_hand, abs=1e-5)


def test_nt_xent_temperature_sharpens():
    # Same vectors at temperature 1: a1 sees its positive at cos 1, its two negatives at cos 0,
    # and so does every anchor: loss = -1 + log(e + 2) = log(1 + 2/e) = 0.55144.
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert nt_xent_loss(z, 5 * z, temperature=1.0).item() == pytest.approx(math.log(1 + 2 / math.e), abs=1e-6)
    # At temperature 0.1 the same gap is 10x wider: log(1 + 2 e^-10) = 9.08e-5.
    assert nt_xent_loss(z, 5 * z, temperature=0.1).item() == pytest.approx(math.log(1 + 2 * math.exp(-10)), abs=1e-7)


def test_contrastive_top1_counts_anchors_whose_nearest_is_the_positive():
    # From the cosines above: a1 -> b1 (0.87, right), a2 -> b1 (0.5 beats its positive -1, wrong),
    # b1 -> a1 (0.87, right), b2 -> a1 (0 beats -0.5 and -1, wrong): 2 of 4.
    z1 = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    z2 = torch.tensor([[math.sqrt(3), 1.0], [0.0, -1.0]])
    assert contrastive_top1(z1, z2) == 0.5


def test_simsiam_loss_matches_hand_computation_and_stops_gradient_at_z():
    # D(p, z) = -mean_i cos(p_i, z_i).
    # D(p1, z2): cos((1,0),(0,2)) = 0, cos((1,1),(1,1)) = 1          -> -(0 + 1)/2 = -0.5
    # D(p2, z1): cos((3,4),(3,4)) = 1, cos((1,0),(-1,0)) = -1        -> -(1 - 1)/2 = 0
    # loss = 0.5 * -0.5 + 0.5 * 0 = -0.25
    p1 = torch.tensor([[1.0, 0.0], [1.0, 1.0]], requires_grad=True)
    p2 = torch.tensor([[3.0, 4.0], [1.0, 0.0]], requires_grad=True)
    z1 = torch.tensor([[3.0, 4.0], [-1.0, 0.0]], requires_grad=True)
    z2 = torch.tensor([[0.0, 2.0], [1.0, 1.0]], requires_grad=True)
    loss = simsiam_loss(p1, p2, z1, z2)
    assert loss.item() == pytest.approx(-0.25, abs=1e-6)

    loss.backward()
    assert z1.grad is None and z2.grad is None  # stop-gradient: z is a constant target
    # d/dp of -0.5 * 0.5 * cos(p, z) for p1[0] = (1, 0), z = (0, 2): -0.25 * (z/|z||p| - cos p/|p|^2)
    # = -0.25 * ((0, 1) - 0) = (0, -0.25); p1[1] is parallel to its target: gradient 0.
    assert torch.allclose(p1.grad, torch.tensor([[0.0, -0.25], [0.0, 0.0]]), atol=1e-6)


def test_simsiam_loss_minimum_is_minus_one():
    z = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    assert simsiam_loss(2 * z, 3 * z, z, z).item() == pytest.approx(-1.0, abs=1e-6)
