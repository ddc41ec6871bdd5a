"""How much of a pretraining step the batched augmentation costs (CPU by default).

    .venv/bin/python bench/augment.py --batch-size 256 --image-size 84 --threads 2

Times, on random slices, (a) the two augmented views of a batch and (b) a full SimCLR/SimSiam
training step that includes them (augment, forward, backward, SGD step), and prints
the ratio a / b with both numbers and the step's throughput.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mrissl.seqclass.augment import AugmentConfig, augment_batch, device_generator
from mrissl.seqclass.models import pretraining_model, resnet18_encoder


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=84)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--widen-factor", type=float, default=1.0)
    parser.add_argument("--method", choices=["simclr", "simsiam"], default="simclr")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device("cpu")
    images = torch.rand(args.batch_size, 1, args.image_size, args.image_size)
    config = AugmentConfig()
    generator = device_generator(device, 0)
    model = pretraining_model(args.method, resnet18_encoder(args.widen_factor), temperature=0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def augment_two_views() -> tuple[torch.Tensor, torch.Tensor]:
        return augment_batch(images, config, generator), augment_batch(images, config, generator)

    def training_step() -> None:
        loss, _, _ = model(*augment_two_views())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    augment_s = median_seconds(augment_two_views, args.repeats)
    step_s = median_seconds(training_step, args.repeats)
    print(f"{args.method}, ResNet-18 widen_factor {args.widen_factor}, batch {args.batch_size}, "
          f"{args.image_size}x{args.image_size}, {args.threads} threads, median of {args.repeats}")
    print(f"augmentation (2 views): {augment_s * 1000:.1f} ms")
    print(f"training step:          {step_s * 1000:.1f} ms "
          f"({args.batch_size / step_s:.1f} images/s, {2 * args.batch_size / step_s:.1f} views/s)")
    print(f"augmentation / step:    {augment_s / step_s:.3f}")


if __name__ == "__main__":
    main()
