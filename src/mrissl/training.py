"""Study-free helpers of every training loop: the device, independent seeds, safe checkpoints, and
several training processes in one job (process group, data shards, DistributedDataParallel)."""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as functional_collectives
from torch import nn

from mrissl.runlog import log_to

T = TypeVar("T")


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


# --- Several training processes in one job: one per GPU, DistributedDataParallel --------------------
#
# Convention: a batch of B items is split into equal shards, one per rank. Every loss of the batch is
# the loss of the whole batch (``mrissl.contrastive``: in-batch negatives gathered from every rank with
# gradient) and each rank's backward leaves on its own parameters the part of the whole batch's
# gradient that flows through its shard, so the ranks' gradients add up to the gradient of one process
# on the whole batch: DistributedDataParallel sums them here instead of its default mean.


def world_size() -> int:
    """Number of training processes: the default process group's size, 1 without one."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def process_rank() -> int:
    """This process's rank in the default process group, 0 without one."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def wait_for_every_rank() -> None:
    """A barrier: returns when every rank has called it (before reading a file that rank 0 writes)."""
    if world_size() > 1:
        dist.barrier()


def shard(items: np.ndarray, rank: int, n_ranks: int) -> np.ndarray:
    """Rank ``rank``'s shard of ``items``: every ``n_ranks``-th item from position ``rank``, as torch's
    DistributedSampler takes them. Cut into batches of B / ``n_ranks``, batch k of all the shards
    together is batch k of B of the unsharded items: the whole batch does not depend on ``n_ranks``."""
    return items[rank::n_ranks]


def all_gather_with_grad(local: torch.Tensor) -> torch.Tensor:
    """Every rank's ``local`` (of the same shape on all) concatenated along dim 0 in rank order; ``local``
    itself without a process group.

    The gradient flows back to every rank's part: the backward sums, over the ranks, the gradients
    that each rank's computation leaves on that part (a reduce-scatter: torch's functional
    ``all_gather_single``), so a rank's ``local`` gets the gradient of every rank's use of it.
    """
    if world_size() == 1:
        return local
    return functional_collectives.all_gather_single(local.contiguous(), 0, dist.group.WORLD)


class CpuSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Synchronised batch norm of CPU tensors (torch's SyncBatchNorm has CUDA kernels only), as when
    the gloo backend trains; any number of dimensions.

    In training with several ranks, each channel is normalised with the mean and (biased) variance of
    the whole batch, combined from every rank's count n_r, mean m_r and variance v_r gathered with
    gradient (Chan et al. 1979):  m = sum_r n_r m_r / n,  v = sum_r n_r (v_r + (m_r - m)^2) / n.
    Running statistics as BatchNorm's (momentum, unbiased variance). Otherwise it is BatchNorm.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected an input of at least 2 dimensions (batch, channels, ...), got {x.dim()}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.dim())]
        var, mean = torch.var_mean(x, dim=dims, correction=0)
        count = torch.full_like(mean, x.numel() / x.shape[1])
        counts, means, variances = all_gather_with_grad(torch.stack([count, mean, var])[None]).unbind(1)
        n = counts.sum(0)
        mean = (counts * means).sum(0) / n
        var = (counts * (variances + (means - mean) ** 2)).sum(0) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = self.momentum if self.momentum is not None else 1.0 / self.num_batches_tracked.item()
                self.running_mean.lerp_(mean, factor)
                self.running_var.lerp_(var * n / (n - 1), factor)
        shape = [1, -1] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


def _sum_gradients(process_group, bucket):  # unannotated: DDP compares annotations with the classes themselves
    """DDP communication hook: all-reduce a ``dist.GradBucket`` of gradients as their sum (DDP's default
    averages); returns a ``torch.futures.Future`` of the summed gradients."""
    reduced = dist.all_reduce(bucket.buffer(), group=process_group, async_op=True).get_future()
    return reduced.then(lambda done: done.value()[0])


def distributed_model(model: nn.Module) -> nn.Module:
    """``model`` for training in the process group: batch norm synchronised over all ranks and the
    whole wrapped in DistributedDataParallel with gradients summed; ``model`` itself in one process.

    ``model`` keeps its own state dict (checkpoint it, not the wrapper); its batch norms become
    SyncBatchNorm (CpuSyncBatchNorm on the CPU), with the same parameters and state keys, so that
    they normalise with the statistics of the whole batch as one process would: SimCLR's "global BN"
    (Chen et al. 2020, sec. 2) and the SimSiam code's SyncBN.
    """
    if world_size() == 1:
        return model
    on_cuda = next(model.parameters()).device.type == "cuda"
    if on_cuda:
        nn.SyncBatchNorm.convert_sync_batchnorm(model)
    else:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.__class__ = CpuSyncBatchNorm  # the same state, a synchronised forward
    wrapped = nn.parallel.DistributedDataParallel(model, device_ids=[torch.cuda.current_device()] if on_cuda else None)
    wrapped.register_comm_hook(None, _sum_gradients)
    return wrapped


def run_in_processes(processes: int, fn: Callable[..., T], *args: object, device: str = "auto", threads: int = 1,
                     log_path: Path | str | None = None) -> T:
    """``fn(*args)`` in ``processes`` processes joined in one process group; what rank 0's call returns.

    One process per GPU on CUDA (backend nccl, process r on GPU r), CPU processes otherwise (gloo).
    One process calls ``fn`` here, without a process group. The processes are forked from a fresh
    server process that has imported ``fn``'s module once (torch.multiprocessing, start method
    forkserver: safe with CUDA, and quick after the first call). Like spawned processes they import
    the main script again, so a script that calls this keeps its body under
    ``if __name__ == "__main__":``, and ``fn`` and ``args`` must pickle: a module-level function, file
    paths rather than memory maps (which would pickle as copies). Each process takes
    ``threads // processes`` torch threads (at least one) and logs to ``log_path``, rank 0 at INFO, the
    others their warnings. ``device`` is the training's device setting (auto, cpu or cuda).
    """
    if processes == 1:
        return fn(*args)
    where = resolve_device(device)
    if where.type == "cuda" and (where.index is not None or torch.cuda.device_count() < processes):
        raise ValueError(f"{processes} training processes (config resources.gpu.gpu) need device 'auto' or 'cuda' "
                         f"and {processes} visible GPUs; got device {device!r} and "
                         f"{torch.cuda.device_count()} GPU(s)")
    torch.multiprocessing.get_context("forkserver").set_forkserver_preload([__name__, fn.__module__])
    with tempfile.TemporaryDirectory(prefix="mrissl-processes-") as folder:
        torch.multiprocessing.start_processes(
            _process_main, args=(processes, Path(folder), where.type, threads, log_path, fn, args),
            nprocs=processes, start_method="forkserver")
        with open(Path(folder) / "result.pickle", "rb") as stored:
            return pickle.load(stored)


def _process_main(rank: int, processes: int, folder: Path, device_type: str, threads: int,
                  log_path: Path | str | None, fn: Callable, args: tuple) -> None:
    """One process of ``run_in_processes``: joins the group, runs ``fn``, rank 0 keeps its result."""
    if log_path is not None:
        log_to(log_path, logging.INFO if rank == 0 else logging.WARNING, append=True)
    torch.set_num_threads(max(1, threads // processes))
    if device_type == "cuda":
        torch.cuda.set_device(rank)
    dist.init_process_group("nccl" if device_type == "cuda" else "gloo", init_method=f"file://{folder}/rendezvous",
                            rank=rank, world_size=processes)
    try:
        result = fn(*args)
        if rank == 0:
            with open(folder / "result.pickle", "wb") as stored:
                pickle.dump(result, stored)
    finally:
        dist.destroy_process_group()
