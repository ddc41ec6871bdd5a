"""reportcl losses (paper 001, Eqs. 1-3) against values worked by hand."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mrissl.reportcl.losses import (
    UncertaintyWeighting,
    local_triplet_loss,
    location_term_weighted_triplet_loss,
    location_weighted_triplet_loss,
    sample_negatives,
    triplet_from_distances,
)

# Images are the unit axes, texts T0=(.8,.6,0), T1=(0,.8,.6), T2=(.6,0,.8): cos(I_i, T_j) = T_j[i], so
# the distance matrix d[i, j] = 1 - T_j[i] is [[.2, 1, .4], [.4, .2, 1], [1, .4, .2]]: every anchor,
# image or text, has d_ap = .2 and its closest negative at d_an = .4 (image i -> text i-1, text j -> image j+1).
IMAGE = torch.eye(3)
TEXT = torch.tensor([[0.8, 0.6, 0.0], [0.0, 0.8, 0.6], [0.6, 0.0, 0.8]])


def test_global_loss_without_location_match():
    # relu(.2 - .4 + .25) = .05 for every anchor; n_negatives = 2 = B - 1 is hard mining
    loss = location_weighted_triplet_loss(IMAGE, TEXT, torch.tensor([0, 1, 2]), n_negatives=2)
    assert loss.item() == pytest.approx(0.05, abs=1e-6)


def test_global_loss_all_same_location():
    # distance weighting: relu(.2 - .5 * .4 + .25) = .25; term weighting: .5 * .05 = .025
    same = torch.tensor([1, 1, 1])
    assert location_weighted_triplet_loss(IMAGE, TEXT, same, n_negatives=2).item() == pytest.approx(0.25, abs=1e-6)
    assert location_term_weighted_triplet_loss(IMAGE, TEXT, same, n_negatives=2).item() == pytest.approx(0.025, abs=1e-6)


def test_global_loss_partial_location_match_both_anchors():
    # locations [0, 1, 0]. Image anchors: I0 -> T2 (same: .25), I1 -> T0 (differ: .05), I2 -> T1 (.05);
    # text anchors: T0 -> I1 (.05), T1 -> I2 (.05), T2 -> I0 (same: .25). Each direction .35 / 3.
    locations = torch.tensor([0, 1, 0])
    assert location_weighted_triplet_loss(IMAGE, TEXT, locations, n_negatives=2).item() == pytest.approx(0.35 / 3, abs=1e-6)
    # term weighting: (.025 + .05 + .05) / 3 each way
    assert location_term_weighted_triplet_loss(IMAGE, TEXT, locations, n_negatives=2).item() == pytest.approx(0.125 / 3, abs=1e-6)
    # location_weight 1 removes the location term
    assert location_weighted_triplet_loss(IMAGE, TEXT, locations, location_weight=1.0, n_negatives=2).item() == pytest.approx(0.05, abs=1e-6)


def test_image_and_text_anchors_differ_and_are_averaged():
    # rows (image anchors): relu(.1 - .3 + .25) = .05, relu(.2 - .5 + .25) = 0  -> .025
    # columns (text anchors): relu(.1 - .5 + .25) = 0, relu(.2 - .3 + .25) = .15 -> .075; mean .05
    d = torch.tensor([[0.1, 0.3], [0.5, 0.2]])
    assert triplet_from_distances(d, None, 0.25, 1.0, 1).item() == pytest.approx(0.05, abs=1e-6)
    same = torch.tensor([[True, True], [True, True]])   # distance weighting, w = .5 on every negative:
    # rows: relu(.1 - .15 + .25) = .2, relu(.2 - .25 + .25) = .2; columns: relu(.1 - .25 + .25) = .1, relu(.2 - .15 + .25) = .3
    assert triplet_from_distances(d, same, 0.25, 0.5, 1).item() == pytest.approx(0.2, abs=1e-6)


def test_hard_mining_matches_torch_triplet_loss():
    g = torch.Generator().manual_seed(0)
    image, text = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    d = 1 - F.normalize(image) @ F.normalize(text).T
    masked = d + torch.eye(6) * 10
    cosd = lambda a, b: 1 - F.cosine_similarity(a, b)  # noqa: E731
    by_image = F.triplet_margin_with_distance_loss(image, text, text[masked.argmin(1)], distance_function=cosd, margin=0.25)
    by_text = F.triplet_margin_with_distance_loss(text, image, image[masked.argmin(0)], distance_function=cosd, margin=0.25)
    ours = location_weighted_triplet_loss(image, text, torch.arange(6), n_negatives=5)
    assert ours.item() == pytest.approx(0.5 * (by_image + by_text).item(), abs=1e-5)


def test_semi_hard_sampling_picks_the_closer_of_the_drawn():
    d = torch.tensor([[0.0, 0.1, 0.5, 0.9]] * 4)
    d.fill_diagonal_(0.0)
    g = torch.Generator().manual_seed(1)
    picks = torch.stack([sample_negatives(d, 2, g)[0] for _ in range(300)])
    # draws of 2 from {1, 2, 3}: {1,2} -> 1, {1,3} -> 1, {2,3} -> 2; never 3, 1 about twice as often as 2
    assert set(picks.tolist()) == {1, 2}
    assert 0.55 < (picks == 1).float().mean().item() < 0.8
    assert (torch.stack([sample_negatives(d, 3, g)[0] for _ in range(50)]) == 1).all()   # B - 1: the hardest
    assert set(torch.stack([sample_negatives(d, 1, g)[0] for _ in range(100)]).tolist()) == {1, 2, 3}  # random
    with pytest.raises(ValueError):
        sample_negatives(d, 4)


def test_sampling_never_picks_the_anchor_and_follows_the_generator():
    d = torch.rand(16, 16, generator=torch.Generator().manual_seed(2))
    for n in (2, 8, 15):
        a = sample_negatives(d, n, torch.Generator().manual_seed(3))
        assert (a != torch.arange(16)).all()
        assert torch.equal(a, sample_negatives(d, n, torch.Generator().manual_seed(3)))


def test_local_loss_zero_beyond_margin_and_positive_otherwise():
    # identical local representations: counterparts equal the originals (similarity 1 on the diagonal),
    # other pairs at distance .5 > margin -> zero loss
    s = torch.full((4, 4), 0.5)
    s.fill_diagonal_(1.0)
    assert local_triplet_loss(s, s, n_negatives=2).item() == 0.0
    # negatives within the margin: d_ap = 0, d_an = .1 -> relu(0 - .1 + .25) = .15 for every anchor
    s.fill_(0.9).fill_diagonal_(1.0)
    assert local_triplet_loss(s, s, n_negatives=3).item() == pytest.approx(0.15, abs=1e-6)


def test_uncertainty_weighting():
    w = UncertaintyWeighting(2)
    losses = [torch.tensor(0.4), torch.tensor(0.1)]
    assert w(losses).item() == pytest.approx(0.5, abs=1e-6)           # s = 0: plain sum
    with torch.no_grad():
        w.log_vars.copy_(torch.tensor([1.0, -1.0]))
    expected = 0.4 * torch.exp(torch.tensor(-1.0)) + 1 + 0.1 * torch.exp(torch.tensor(1.0)) - 1
    assert w(losses).item() == pytest.approx(expected.item(), abs=1e-6)
    total = w(losses)
    total.backward()
    assert (w.log_vars.grad != 0).all()
