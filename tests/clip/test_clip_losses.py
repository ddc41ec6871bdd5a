"""clip_loss (shared symmetric InfoNCE, re-exported by mrissl.clip.losses) against a case worked by hand."""

import math

import pytest
import torch

from mrissl.clip.losses import clip_loss
from mrissl.contrastive import clip_loss as shared_clip_loss


def test_clip_losses_reexports_the_shared_loss():
    assert clip_loss is shared_clip_loss


def test_clip_loss_two_pairs_by_hand():
    # Images e1, e2; texts e1 and (0.6, 0.8), the second given at 3x its length (the loss normalises).
    # logit_scale 2: logits = 2 * I @ T.T = [[2, 1.2], [0, 1.6]].
    # image -> text: row 0 log(1 + e^(1.2 - 2)), row 1 log(1 + e^(0 - 1.6));
    # text -> image (transpose [[2, 0], [1.2, 1.6]]): log(1 + e^(0 - 2)), log(1 + e^(1.2 - 1.6)).
    # loss = (0.371101 + 0.183901 + 0.126928 + 0.513015) / 4 = 0.298736
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    texts = torch.tensor([[1.0, 0.0], [1.8, 2.4]])
    loss = clip_loss(images, texts, torch.tensor(2.0))
    assert loss.item() == pytest.approx(0.298736, abs=1e-6)
    terms = [math.log1p(math.exp(-d)) for d in (0.8, 1.6, 2.0, 0.4)]
    assert loss.item() == pytest.approx(sum(terms) / 4, abs=1e-7)


def test_clip_loss_is_symmetric_in_its_two_directions():
    generator = torch.Generator().manual_seed(0)
    images, texts = torch.randn(6, 16, generator=generator), torch.randn(6, 16, generator=generator)
    scale = torch.tensor(14.3)
    # Swapping the modalities transposes the logits: the mean of the two cross-entropies is the same.
    assert clip_loss(images, texts, scale).item() == pytest.approx(clip_loss(texts, images, scale).item(), rel=1e-6)
    # and it is not one direction alone: image->text and text->image differ on this draw.
    logits = scale * torch.nn.functional.normalize(images, dim=1) @ torch.nn.functional.normalize(texts, dim=1).T
    targets = torch.arange(6)
    one_way = torch.nn.functional.cross_entropy(logits, targets).item()
    other_way = torch.nn.functional.cross_entropy(logits.T, targets).item()
    assert one_way != pytest.approx(other_way, rel=1e-3)
    assert clip_loss(images, texts, scale).item() == pytest.approx((one_way + other_way) / 2, rel=1e-6)


def test_clip_loss_gradient_reaches_the_temperature():
    s = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    images, texts = torch.eye(3), torch.eye(3) + 0.1
    clip_loss(images, texts, s.exp()).backward()
    assert s.grad is not None and s.grad.item() < 0  # matching pairs: a sharper softmax lowers the loss
