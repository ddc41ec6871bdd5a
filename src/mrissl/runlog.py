"""Logging for rule scripts: everything a job says goes to the rule's log file."""

from __future__ import annotations

import logging
from pathlib import Path


def log_to(path: str | Path, level: int = logging.INFO, append: bool = False) -> logging.Logger:
    """Send Python logging and warnings of this job to ``path`` (the rule's ``log:``); return the root logger.

    ``append``: keep what is there (the further processes of a multi-GPU job log to their job's file).
    The file is written in append mode either way, so that the lines of several processes interleave
    instead of overwriting each other.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not append:
        Path(path).write_text("")
    logging.basicConfig(
        filename=path, filemode="a", level=level, force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.captureWarnings(True)
    return logging.getLogger()
