"""Logging for rule scripts: everything a job says goes to the rule's log file."""

from __future__ import annotations

import logging
from pathlib import Path


def log_to(path: str | Path, level: int = logging.INFO) -> logging.Logger:
    """Send Python logging and warnings of this job to ``path`` (the rule's ``log:``); return the root logger."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=path, filemode="w", level=level, force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.captureWarnings(True)
    return logging.getLogger()
