"""Fine-tuning: nested label subsets of whole patients or series, validation-only model selection, metrics, latents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mrissl.seqclass.finetune
from mrissl.seqclass import SEQUENCE_CLASSES
from mrissl.seqclass.datasets import SliceSet, load_slices
from mrissl.seqclass.finetune import (FinetuneConfig, classification_metrics, embed, evaluate_classifier, finetune,
                                     fit_probe_head)
from mrissl.seqclass.slices import label_fraction_subsets
from mrissl.seqclass.latent import silhouette, tsne_2d, umap_2d
from mrissl.seqclass.models import Classifier, load_encoder, resnet18_encoder

pytestmark = pytest.mark.usefixtures("two_torch_threads")
FRACTIONS = [0.005, 0.01, 0.05, 0.5, 1.0]


def slice_index(n_patients: int = 40, seed: int = 0) -> pd.DataFrame:
    """A training-split index: each patient has 4-9 of the classes, 6-14 slices per series."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        for label in rng.choice(SEQUENCE_CLASSES, size=rng.integers(4, 10), replace=False):
            for k in range(rng.integers(6, 15)):
                rows.append({"series_key": f"s{p}-{label}", "study_key": f"st{p}", "patient_key": f"p{p:02d}",
                             "plane": "axial", "slice_index": k, "label": label})
    index = pd.DataFrame(rows)
    index.insert(0, "row", np.arange(len(index)))
    return index


@pytest.mark.parametrize("unit, key", [("patient", "patient_key"), ("series", "series_key"), ("slice", "row")])
def test_label_fraction_subsets_are_nested_grouped_by_unit_and_cover_every_class(unit, key):
    index = slice_index()
    subsets = label_fraction_subsets(index, FRACTIONS, seed=1, unit=unit)
    slices_per_unit = index.groupby(key).size()
    for small, large in zip(FRACTIONS, FRACTIONS[1:]):
        assert set(subsets[small]) <= set(subsets[large])
    assert np.array_equal(subsets[1.0], index["row"].to_numpy())
    for fraction, rows in subsets.items():
        chosen = index.iloc[rows]
        assert set(chosen["label"]) == set(index["label"])  # at least one slice of every class
        target = int(np.ceil(fraction * len(index)))
        assert target <= len(rows) <= target + len(SEQUENCE_CLASSES)
        # Whole units, except the one cut at the boundary and at most one slice per class added for
        # coverage; sampling slices at random would touch nearly every patient and series.
        taken = chosen.groupby(key).size()
        partial = (taken < slices_per_unit[taken.index]).sum()
        assert partial <= 1 + len(SEQUENCE_CLASSES)
        assert taken.size <= int(np.ceil(fraction * slices_per_unit.size)) + 1 + len(SEQUENCE_CLASSES)
    # Fixed by the seed, and each subset independent of which other fractions are asked for.
    again = label_fraction_subsets(index, [0.05], seed=1, unit=unit)
    assert np.array_equal(again[0.05], subsets[0.05])
    assert not np.array_equal(label_fraction_subsets(index, [0.05], seed=2, unit=unit)[0.05], subsets[0.05])
    with pytest.raises(ValueError, match="0.5% is 0.005"):
        label_fraction_subsets(index, [0.5, 5.0], seed=1, unit=unit)


def test_label_subsets_by_series_hold_more_patients_than_by_patient():
    # The demo's patients hold ~14 series each: at 5% whole patients are two or three patients,
    # whole series draw from many (the paper's cohort, one series per patient, has no difference).
    index = slice_index()
    by_patient = label_fraction_subsets(index, [0.05], seed=1, unit="patient")[0.05]
    by_series = label_fraction_subsets(index, [0.05], seed=1, unit="series")[0.05]
    assert index.iloc[by_series]["patient_key"].nunique() >= 2 * index.iloc[by_patient]["patient_key"].nunique()
    with pytest.raises(ValueError, match="patient or series or slice, not 'study'"):
        label_fraction_subsets(index, [0.05], seed=1, unit="study")


def test_label_fraction_subsets_by_class_give_every_class_its_share():
    index = slice_index()
    subsets = label_fraction_subsets(index, FRACTIONS, seed=1, by_class=True)
    per_class = index.groupby("label").size()
    for small, large in zip(FRACTIONS, FRACTIONS[1:]):
        assert set(subsets[small]) <= set(subsets[large])
    for fraction, rows in subsets.items():
        taken = index.iloc[rows].groupby("label").size()
        assert taken.to_dict() == {c: int(np.ceil(fraction * n)) for c, n in per_class.items()}


def tiny_split(tmp_path, name: str, n: int, fill: float, seed: int) -> SliceSet:
    """A split of n 32 x 32 slices written as .npy + .tsv and memory-mapped back, as curated."""
    rng = np.random.default_rng(seed)
    labels = np.array(SEQUENCE_CLASSES)[np.arange(n) % 3]  # three classes, a brightness cue per class
    images = (fill + 0.2 * (np.arange(n) % 3)[:, None, None] + 0.05 * rng.random((n, 32, 32))).astype(np.float16)
    np.save(tmp_path / f"{name}.npy", images)
    index = pd.DataFrame({"row": np.arange(n), "series_key": [f"{name}{i // 4}" for i in range(n)],
                          "study_key": "st", "patient_key": [f"{name}p{i // 8}" for i in range(n)],
                          "plane": "axial", "slice_index": np.arange(n) % 4, "label": labels})
    index.to_csv(tmp_path / f"{name}.tsv", sep="\t", index=False)
    return load_slices(tmp_path / f"{name}.npy", tmp_path / f"{name}.tsv")


def test_model_selection_sees_validation_data_only(tmp_path, monkeypatch):
    train = tiny_split(tmp_path, "train", 24, 0.1, 0)
    val = tiny_split(tmp_path, "val", 12, 0.15, 1)
    test = tiny_split(tmp_path, "test", 12, 0.12, 2)
    assert isinstance(train.images, np.memmap)  # read lazily, not copied
    seen = []
    real_predict = mrissl.seqclass.finetune.predict

    def spying_predict(model, images, *args, **kwargs):
        seen.append(images)
        return real_predict(model, images, *args, **kwargs)

    monkeypatch.setattr(mrissl.seqclass.finetune, "predict", spying_predict)
    config = FinetuneConfig(epochs=3, batch_size=8, min_steps_per_epoch=2, image_size=32, widen_factor=0.125,
                            seed=0, device="cpu")
    result = finetune(train, np.arange(0, 24, 2), val, config)
    assert len(seen) == config.epochs and all(images is val.images for images in seen)

    history = result.history
    assert list(history["epoch"]) == [1, 2, 3]
    assert result.best_epoch == int(history["epoch"][history["val_accuracy"].idxmax()])
    assert result.best_val_accuracy == history["val_accuracy"].max()

    seen.clear()
    metrics = evaluate_classifier(result.state, test, config)
    assert len(seen) == 1 and seen[0] is test.images
    assert metrics.confusion.to_numpy().sum() == 12
    assert metrics.accuracy == pytest.approx(np.trace(metrics.confusion.to_numpy()) / 12)


def test_probe_head_is_scikit_learns_logistic_regression_and_epoch_0(tmp_path, monkeypatch):
    """LP-FT: the head starts as the logistic regression on the frozen encoder's standardised features
    (scikit-learn's, C = 1), and that probe is epoch 0 of the model selection; scratch has no probe."""
    train = tiny_split(tmp_path, "train", 24, 0.1, 0)
    val = tiny_split(tmp_path, "val", 12, 0.15, 1)
    torch.manual_seed(5)
    encoder = resnet18_encoder(0.125)
    config = FinetuneConfig(epochs=1, head_init="probe", batch_size=8, min_steps_per_epoch=2, image_size=32,
                            widen_factor=0.125, seed=0, device="cpu")
    rows = np.arange(0, 24, 2)
    features = embed(encoder, train.images[rows], image_size=32, device="cpu")
    sklearn_probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, tol=1e-8, max_iter=5000))
    expected = sklearn_probe.fit(features, train.labels()[rows]).predict_proba(features)

    model = Classifier(encoder, len(SEQUENCE_CLASSES))
    fit_probe_head(model, train.images[rows], train.labels()[rows], config, torch.device("cpu"))
    with torch.no_grad():
        probabilities = torch.softmax(model.head(torch.from_numpy(features)), dim=1).numpy()
    present = sklearn_probe.classes_  # the three classes of the tiny split; absent ones get ~0
    assert np.allclose(probabilities[:, present], expected, atol=2e-3)
    assert probabilities[:, np.setdiff1d(np.arange(len(SEQUENCE_CLASSES)), present)].max() < 0.01

    states = []
    real_predict = mrissl.seqclass.finetune.predict

    def recording_predict(model, *args, **kwargs):
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_predict(model, *args, **kwargs)

    monkeypatch.setattr(mrissl.seqclass.finetune, "predict", recording_predict)
    result = finetune(train, rows, val, config, encoder.state_dict())
    assert list(result.history["epoch"]) == [0, 1]
    assert np.isnan(result.history["train_loss"][0])
    assert torch.allclose(states[0]["head.weight"], model.head.weight, atol=1e-5)  # epoch 0 is the probe
    assert all(torch.equal(states[0][f"encoder.{k}"], v) for k, v in encoder.state_dict().items())
    assert list(finetune(train, rows, val, config).history["epoch"]) == [1]  # random weights: no probe
    with pytest.raises(ValueError, match="seqclass.finetune.head_init"):
        FinetuneConfig(head_init="zeros")


def test_classification_metrics_by_hand():
    # true a a b c, predicted a b b c: 3 of 4 right; class a 1 of 2, b 1 of 1, c 1 of 1.
    metrics = classification_metrics(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), ("a", "b", "c", "d"))
    assert metrics.accuracy == 0.75
    assert metrics.per_class["accuracy"].tolist()[:3] == [0.5, 1.0, 1.0]
    assert np.isnan(metrics.per_class["accuracy"].iloc[3]) and metrics.per_class["n"].tolist() == [2, 1, 1, 0]
    assert metrics.confusion.to_numpy().tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]


def test_encoder_is_channels_last_and_computes_what_the_standard_layout_does():
    torch.manual_seed(0)
    encoder = resnet18_encoder(widen_factor=0.125)
    convolutions = [m.weight for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in convolutions)
    assert sum(not w.is_contiguous() for w in convolutions) == 16  # the 3x3 ones; 1x1 and 1-channel look alike
    standard = resnet18_encoder(widen_factor=0.125).to(memory_format=torch.contiguous_format)
    standard.load_state_dict(encoder.state_dict())
    images = torch.rand(6, 1, 40, 40)
    encoder.eval()
    standard.eval()
    with torch.no_grad():
        assert torch.allclose(encoder(images), standard(images), atol=1e-5)


def test_embeddings_and_latent_maps(tmp_path):
    torch.manual_seed(0)
    images = np.random.default_rng(0).random((20, 32, 32)).astype(np.float16)
    features = embed(resnet18_encoder(), images, image_size=32, batch_size=8, device="cpu")
    assert features.shape == (20, 512) and features.dtype == np.float32

    # The encoder of a fine-tuned classifier's saved state gives the same features as the live one.
    classifier = Classifier(resnet18_encoder(widen_factor=0.25), len(SEQUENCE_CLASSES))
    torch.save(classifier.state_dict(), tmp_path / "classifier.pt")
    reloaded = load_encoder(tmp_path / "classifier.pt", widen_factor=0.25)
    assert np.array_equal(embed(reloaded, images, 32, 8, "cpu"), embed(classifier.encoder, images, 32, 8, "cpu"))
    assert embed(reloaded, images, 32, 8, "cpu").shape == (20, 128)
    with pytest.raises(ValueError, match="widen_factor=1.0"):
        load_encoder(tmp_path / "classifier.pt", widen_factor=1.0)

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    clusters = rng.normal(size=(60, 16)) + 10 * np.eye(3, 16)[labels]
    for mapping in (tsne_2d, umap_2d):
        points = mapping(clusters, seed=0)
        assert points.shape == (60, 2)
        assert np.array_equal(points, mapping(clusters, seed=0))
        assert silhouette(points, labels) > 0.5
    assert silhouette(rng.normal(size=(60, 16)), labels) < 0.1
