"""The CLIP-style model: shapes, normalised embeddings, the temperature clamp after a step, augmentation."""

import math

import pytest
import torch

from mrissl.clip.augment import AugmentConfig, augment_batch, random_affines, scale_to_unit
from mrissl.clip.losses import clip_loss
from mrissl.clip.models import CLIP_TEMPERATURE_CLAMP, ClipModel, ImageClassifier, ModelConfig

SMALL = dict(features=(4, 8, 8), image_dim=16, text_dim=16, projection_dim=8)
SHAPE = (32, 32, 8)


def test_encoder_embeds_to_the_unit_sphere():
    torch.manual_seed(0)
    model = ClipModel(ModelConfig(**SMALL, in_plane_pool=2), 3, SHAPE, 12)
    images, texts = model(torch.rand(4, 3, *SHAPE), torch.randn(4, 12))
    assert images.shape == texts.shape == (4, 8)
    assert torch.allclose(images.norm(dim=1), torch.ones(4), atol=1e-5)
    assert torch.allclose(texts.norm(dim=1), torch.ones(4), atol=1e-5)
    assert model.logit_scale().item() == pytest.approx(1 / 0.07, rel=1e-5)  # CLIP's start
    assert ImageClassifier(ModelConfig(**SMALL), 3, SHAPE, 5)(torch.rand(2, 3, *SHAPE)).shape == (2, 5)


def test_too_many_levels_for_the_volume_are_refused():
    with pytest.raises(ValueError, match="vanish"):
        ClipModel(ModelConfig(features=(2, 2, 2, 2, 2, 2), image_dim=4, text_dim=4, projection_dim=4), 3, (32, 32, 8), 4)


def _step(model: ClipModel, lr: float, sign: float) -> None:
    """One Adam step that pushes s up (sign +1) or down (-1) hard, then the clamp."""
    optimizer = torch.optim.Adam([model.temperature], lr=lr)
    optimizer.zero_grad()
    (sign * -model.temperature).backward()
    optimizer.step()
    model.clamp_temperature_()


def test_temperature_clamp_holds_after_a_step():
    model = ClipModel(ModelConfig(**SMALL), 3, SHAPE, 12)
    with torch.no_grad():
        model.temperature.fill_(math.log(99.0))
    _step(model, lr=1.0, sign=+1)            # Adam moves s by lr: ln 99 + 1 > ln 100 without the clamp
    assert model.temperature.item() == pytest.approx(math.log(100.0))
    assert model.logit_scale().item() == pytest.approx(100.0, rel=1e-5)
    with torch.no_grad():
        model.temperature.fill_(0.5)
    _step(model, lr=1.0, sign=-1)
    assert model.temperature.item() == 0.0
    assert CLIP_TEMPERATURE_CLAMP == (0.0, pytest.approx(math.log(100.0)))


def test_without_clamp_the_temperature_is_free_as_in_the_authors_code():
    model = ClipModel(ModelConfig(**SMALL, temperature_init=1.0, temperature_clamp=None), 3, SHAPE, 12)
    assert model.logit_scale().item() == pytest.approx(math.e)
    with torch.no_grad():
        model.temperature.fill_(math.log(99.0))
    _step(model, lr=1.0, sign=+1)
    assert model.temperature.item() == pytest.approx(math.log(99.0) + 1.0, abs=1e-3)


def test_clamp_holds_inside_a_real_training_step():
    torch.manual_seed(0)
    model = ClipModel(ModelConfig(**SMALL, temperature_init=math.log(100.0)), 3, SHAPE, 12)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
    images, texts = model(torch.rand(4, 3, *SHAPE), torch.randn(4, 12))
    clip_loss(images, texts, model.logit_scale()).backward()
    optimizer.step()
    model.clamp_temperature_()
    low, high = CLIP_TEMPERATURE_CLAMP
    assert low <= model.temperature.item() <= high + 1e-6


def test_augmentation_is_seeded_and_the_identity_when_off():
    volumes = scale_to_unit(torch.rand(3, 3, *SHAPE) * 5)
    assert volumes.amin(dim=(2, 3, 4)).abs().max() < 1e-6 and (volumes.amax(dim=(2, 3, 4)) - 1).abs().max() < 1e-6
    config = AugmentConfig()
    a = augment_batch(volumes, config, (2.0, 2.0, 8.0), torch.Generator().manual_seed(3))
    b = augment_batch(volumes, config, (2.0, 2.0, 8.0), torch.Generator().manual_seed(3))
    c = augment_batch(volumes, config, (2.0, 2.0, 8.0), torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(augment_batch(volumes, AugmentConfig(enabled=False), (2.0, 2.0, 8.0), torch.Generator()), volumes)
    only_flip = AugmentConfig(affine_p=0, noise_p=0, gamma_p=0, flip_p=1.0)
    flipped = augment_batch(volumes, only_flip, (2.0, 2.0, 8.0), torch.Generator().manual_seed(0))
    assert torch.allclose(flipped, volumes.flip(2), atol=1e-5)  # left-right is the first spatial axis


def test_affine_rotates_in_millimetres():
    # A pure rotation in mm maps to D^-1 R D in voxels: its (x, z) entry is scaled by 8/2 relative to (z, x).
    config = AugmentConfig(affine_p=1.0, scale=(1.0, 1.0), translation_voxels=(0.0, 0.0, 0.0))
    theta = random_affines(64, config, (2.0, 2.0, 8.0), torch.Generator().manual_seed(0), "cpu")
    matrix = theta[:, :, :3]
    spacing = torch.tensor([2.0, 2.0, 8.0])
    in_mm = matrix * spacing[None, :, None] / spacing[None, None, :]
    eye = torch.eye(3).expand(64, 3, 3)
    assert torch.allclose(in_mm @ in_mm.transpose(1, 2), eye, atol=1e-5)  # orthogonal in mm
    assert (in_mm - eye).abs().amax() > 0.01


def test_text_features_are_standardised_by_the_training_statistics():
    torch.manual_seed(0)
    common = torch.randn(12) * 10  # the large shared direction of CLS features
    features = common + torch.randn(20, 12)
    model = ClipModel(ModelConfig(**SMALL), 3, SHAPE, 12)
    model.set_text_statistics(features[:15])
    assert torch.allclose(model.text_mean, features[:15].mean(0))
    assert torch.allclose(model.text_scale, features[:15].std(0))
    assert "text_mean" in model.state_dict()  # saved with the weights: evaluation standardises alike
    raw = ClipModel(ModelConfig(**SMALL, standardize_text=False), 3, SHAPE, 12)
    raw.set_text_statistics(features)
    assert torch.equal(raw.text_mean, torch.zeros(12))
