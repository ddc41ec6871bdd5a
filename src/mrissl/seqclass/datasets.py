"""Curated 2D slices for training: a memory-mapped image array with its index table.

The curation writes, per split, ``{split}.npy`` (float16, shape (N, H, W), values in [0, 1]) and
``{split}.tsv`` (one row per image: row, series_key, study_key, patient_key, plane, slice_index,
label). Images are read lazily from the memory map, one batch at a time; the order of batches
is a pure function of (seed, epoch), so a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mrissl.seqclass import SEQUENCE_CLASSES
from mrissl.seqclass.slices import read_slice_index


@dataclass(frozen=True)
class SliceSet:
    """One split: ``images`` is the (N, H, W) memory map, ``index`` its N-row table."""

    images: np.ndarray
    index: pd.DataFrame

    def labels(self, classes: tuple[str, ...] = SEQUENCE_CLASSES) -> np.ndarray:
        """Class ids (positions in ``classes``, the classifier's outputs) of every image."""
        lookup = {name: i for i, name in enumerate(classes)}
        unknown = sorted(set(self.index["label"]) - set(lookup))
        if unknown:
            raise ValueError(f"slice index has labels {unknown} outside the classes {list(classes)}")
        return self.index["label"].map(lookup).to_numpy(dtype=np.int64)


def load_slices(npy_path: Path | str, tsv_path: Path | str) -> SliceSet:
    """Memory-map a split's images (no copy) and read its index, checking they belong together."""
    images = np.load(npy_path, mmap_mode="r")
    if images.ndim != 3 or images.dtype != np.float16:
        raise ValueError(
            f"{npy_path}: expected a float16 array of shape (N, H, W), got {images.dtype} {images.shape}; "
            "re-run the curation rule that writes it"
        )
    index = read_slice_index(tsv_path)
    if len(index) != len(images) or not np.array_equal(index["row"].to_numpy(), np.arange(len(images))):
        raise ValueError(
            f"{tsv_path}: its 'row' column must be 0..{len(images) - 1} to match the {len(images)} images "
            f"of {npy_path}; the two files come from different curation runs"
        )
    return SliceSet(images=images, index=index)


def to_batch(images: np.ndarray, device: torch.device, image_size: int | None = None) -> torch.Tensor:
    """(B, H, W) float16 slices -> (B, 1, S, S) float32 tensor on ``device``, resized if S != H.

    On CUDA the slices travel as they are stored, from page-locked memory without blocking the host
    (``pinned_copy``), and become float32 on the GPU. Bilinear resizing with antialiasing is a convex
    combination of pixels, so the intensity range of the input is kept.
    """
    if device.type == "cuda":
        batch = pinned_copy(images).to(device, non_blocking=True).float().unsqueeze(1)
    else:
        batch = torch.tensor(images, dtype=torch.float32, device=device).unsqueeze(1)  # copies: memmaps are read-only
    if image_size is not None and tuple(batch.shape[-2:]) != (image_size, image_size):
        batch = F.interpolate(batch, size=(image_size, image_size), mode="bilinear",
                              align_corners=False, antialias=True)
    return batch


def pinned_copy(images: np.ndarray) -> torch.Tensor:
    """A copy of ``images`` in page-locked host memory, same dtype.

    A ``non_blocking`` copy to the GPU from it returns at once, so the host goes on queueing the
    step's kernels; torch's pinned-memory cache keeps the buffer alive until the copy is done.
    """
    pinned = torch.empty(images.shape, dtype=torch.from_numpy(np.empty(0, images.dtype)).dtype, pin_memory=True)
    pinned.numpy()[...] = images  # one copy, also from a read-only memmap
    return pinned


def epoch_order(n_rows: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of ``n_rows`` items in one epoch: a function of (seed, epoch) only."""
    return np.random.default_rng([seed, epoch]).permutation(n_rows)


def iterate_batches(rows: np.ndarray, batch_size: int, n_batches: int) -> Iterator[np.ndarray]:
    """``n_batches`` consecutive batches of ``rows``, cycling through it when it is too short.

    Training with few labelled slices needs more batches than one pass gives; cycling keeps every
    slice equally often in the epoch.
    """
    needed = batch_size * n_batches
    cycled = np.resize(rows, needed) if len(rows) < needed else rows[:needed]
    yield from cycled.reshape(n_batches, batch_size)


def inference_batches(images: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """The images in order, ``batch_size`` at a time (the last batch may be shorter)."""
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size]
