"""Study-free helpers of every training loop: the device, independent seeds, safe checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; anything else as torch spells it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def derived_seed(*parts: int) -> int:
    """An independent 63-bit seed for each tuple of integers (e.g. seed, epoch)."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0] >> 1)


def save_atomically(obj: object, path: Path) -> None:
    """torch.save via a temporary file, so a kill mid-write never leaves a truncated checkpoint."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``module``'s state dict on the CPU (for checkpoints and the best-epoch weights)."""
    return {key: value.detach().cpu().clone() for key, value in module.state_dict().items()}


def load_checkpoint(path: Path, settings: dict, device: torch.device) -> dict | None:
    """The checkpoint at ``path`` to resume from, or None when there is none.

    A checkpoint written with other ``settings`` (the run's settings as a plain dict) is refused,
    naming both and the folder to delete, so a changed config never continues an old run.
    """
    if not path.exists():
        return None
    state = torch.load(path, map_location=device, weights_only=True)
    if state["config"] != settings:
        raise ValueError(f"{path} was written with other settings ({state['config']}) than this run "
                         f"({settings}); delete {path.parent} to start afresh")
    return state
