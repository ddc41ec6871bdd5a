"""Shared fixtures: a copy of the repository and one tiny end-to-end Snakemake run per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = str(BIN / "snakemake")


def copy_repository(dest: Path) -> Path:
    """Copy the tracked and untracked-but-not-ignored files (never results/, .venv, .snakemake)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the workflow's Snakemake in ``workdir``; on failure show its output and the logs."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [SNAKEMAKE, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        logs = "\n".join(
            f"--- {p}\n{p.read_text()[-3000:]}" for p in sorted((workdir / "logs").rglob("*.log"))
        ) if (workdir / "logs").exists() else ""
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}\n{logs}"
        )
    return proc


@pytest.fixture
def two_torch_threads():
    """Training tests run on two threads whatever the caller set, as the demo's jobs would at most
    (use with ``pytestmark = pytest.mark.usefixtures("two_torch_threads")``)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def copy_run(run: Path, dest: Path) -> Path:
    """A copy of a finished working directory (``tiny_run``), mtimes and Snakemake's metadata kept, so that
    a test can change or re-run part of it without touching the shared run."""
    shutil.copytree(run, dest, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    return dest


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The default pipeline on config/tiny.yaml, run once locally; returns the working directory."""
    workdir = copy_repository(tmp_path_factory.mktemp("tiny_run"))
    run_snakemake(workdir, "--cores", "2", "--configfile", "config/tiny.yaml")
    return workdir


@pytest.fixture(scope="session")
def process_server():
    """The server that ``run_in_processes`` forks training processes from, started once for the session
    with the training modules of the tests imported, so that each process starts in about a second.
    (Python 3.11's forkserver imports only what the default path finds, not the test modules.)"""
    import multiprocessing.forkserver

    import torch.multiprocessing

    torch.multiprocessing.get_context("forkserver").set_forkserver_preload(
        ["mrissl.training", "mrissl.seqclass.train", "mrissl.reportcl.losses", "mrissl.clip.train"])
    multiprocessing.forkserver.ensure_running()


def on_two_ranks(fn, *args):
    """What rank 0's ``fn(*args)`` returns, run by two CPU processes in one gloo process group
    (``mrissl.training.run_in_processes``). ``fn`` is a module-level function of a test module (the
    processes import it by name, from a server that imports its module once); it reads its rank from
    ``mrissl.training.process_rank()`` and returns ``every_rank(...)`` to bring back both ranks' values."""
    from mrissl.training import run_in_processes

    return run_in_processes(2, fn, *args, device="cpu")


def every_rank(value) -> list:
    """``[rank 0's value, rank 1's value, ...]`` on every rank (``torch.distributed.all_gather_object``)."""
    import torch.distributed as dist

    values = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return values


def own_rows(n_items: int) -> slice:
    """The rows of this rank's shard of a batch of ``n_items`` split in rank order (how the losses gather)."""
    from mrissl.training import process_rank, world_size

    size = n_items // world_size()
    return slice(process_rank() * size, (process_rank() + 1) * size)
