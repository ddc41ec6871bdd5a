"""What encoder width, pretraining and fine-tuning epochs the seqclass effects need, on a finished run's slices.

    .venv/bin/python bench/seqclass_budget.py [--results results] [--widths 0.125 0.25] [--epochs 10]
        [--fractions 0.005 0.01 0.05 1] [--inits scratch simclr <encoder.pt> ...]
        [--pretrain-epochs 50] [--positives views series] [--pretrain-seeds 1 2] [--subset-seeds 1 2 3]
        [--label-units patient series slice] [--head-inits random probe] [--work /tmp/seqclass_budget]

Each init is fine-tuned (mrissl.seqclass.finetune: the pipeline's loop and the settings of
config/config.yaml, epochs, head init (LP-FT) and width overridden) on label subsets drawn as the
pipeline draws them (mrissl.seqclass.slices.label_fraction_subsets, one per subset seed and
``--label-units``), selected on the run's validation split and tested on its test split.
``scratch`` starts from random weights (and a random head); ``simclr`` / ``simsiam`` are pretrained
here first, on the run's training slices, with config/config.yaml's recipe (batch size of
``seqclass.focus_run``), ``--pretrain-epochs`` (the paper: 50) and each of ``--positives`` (views:
the paper's two augmentations of a slice; series: two slices of a series) and ``--pretrain-seeds``,
the encoders cached under ``--work``; a path is a pretrained encoder of that width. Prints the
linear probe of each encoder, the test accuracy of every run and, per (width, epochs, head init,
label unit, fraction, init), the mean and standard deviation over the pretraining and subset seeds,
with the seconds spent: how far a larger budget than the demo's 2 cores moves the 100% accuracy and
the small-fraction gap.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from mrissl.seqclass import SEQUENCE_CLASSES
from mrissl.seqclass.datasets import SliceSet, load_slices
from mrissl.seqclass.finetune import (HEAD_INITS, FinetuneConfig, evaluate_classifier, finetune, fit_probe_head,
                                     predict)
from mrissl.seqclass.models import Classifier, resnet18_encoder
from mrissl.seqclass.slices import LABEL_UNITS, label_fraction_subsets
from mrissl.seqclass.train import POSITIVES, PretrainConfig, pretrain

METHODS = ("simclr", "simsiam")


def pretrained_encoder(method: str, train: SliceSet, seqclass: dict, width: float, epochs: int, positives: str,
                       seed: int, work: Path) -> dict[str, torch.Tensor]:
    """A ``method`` encoder pretrained on the ``train`` slices with the config's recipe and ``positives``,
    cached under ``work``."""
    temperature, batch_size = seqclass["pretrain"]["temperature"], seqclass["focus_run"]["batch_size"]
    path = work / f"{method}_{positives}_t{temperature:g}_b{batch_size}_w{width:g}_e{epochs}_seed{seed}.pt"
    if not path.exists():
        config = PretrainConfig.from_dict({
            **{k: v for k, v in seqclass["pretrain"].items() if k != "recipes"},
            **seqclass["pretrain"]["recipes"][method],
            "method": method, "epochs": epochs, "batch_size": batch_size, "image_size": 84, "positives": positives,
            "augment": seqclass["augment"], "widen_factor": width, "seed": seed,
        })
        began = time.perf_counter()
        result = pretrain(train.images, config, work / f"checkpoint_{path.stem}",
                          train.index["series_key"].to_numpy())
        torch.save(result.encoder_final, path)
        last = result.metrics.iloc[-1]
        print(f"pretrained {method} ({positives}) width {width:g}, {epochs} epochs, seed {seed}: contrastive top-1 "
              f"{last['contrastive_top1']:.3f}, {time.perf_counter() - began:.0f} s -> {path}", flush=True)
    return torch.load(path, map_location="cpu", weights_only=True)


def initial_weights(args: argparse.Namespace, train: SliceSet, seqclass: dict, width: float):
    """(name, encoder weights or None for random ones) of every ``--inits`` entry at ``width``; a
    pretraining method once for each of ``--positives`` and ``--pretrain-seeds``, under one name."""
    for init in args.inits:
        if init == "scratch":
            yield init, None
        elif init in METHODS:
            for positives in args.positives:
                for seed in args.pretrain_seeds:
                    yield f"{init} ({positives})", pretrained_encoder(init, train, seqclass, width, args.pretrain_epochs,
                                                                      positives, seed, args.work)
        else:
            yield Path(init).stem, torch.load(init, map_location="cpu", weights_only=True)


def linear_probe(encoder_state: dict[str, torch.Tensor] | None, width: float, train: SliceSet, test: SliceSet,
                 subsets: dict[int, dict[float, np.ndarray]]) -> dict[float, float]:
    """Test accuracy of the logistic regression on the frozen encoder's features of each labelled
    subset (the fine-tuning's probe head, mrissl.seqclass.finetune.fit_probe_head), averaged over the
    subset seeds: how much sequence information the pretraining put in the features (``None``: a
    random encoder, the reference)."""
    torch.manual_seed(1)
    encoder = resnet18_encoder(width)
    if encoder_state is not None:
        encoder.load_state_dict(encoder_state)
    config = FinetuneConfig(widen_factor=width, image_size=84, device="cpu")
    train_labels, test_labels = train.labels(), test.labels()
    accuracies = {}
    for fraction in next(iter(subsets.values())):
        runs = []
        for subset in subsets.values():
            rows = np.sort(subset[fraction])
            model = Classifier(encoder, len(SEQUENCE_CLASSES))
            fit_probe_head(model, train.images[rows], train_labels[rows], config, torch.device("cpu"))
            predicted = predict(model, test.images, config.image_size, 256, torch.device("cpu"))
            runs.append((predicted == test_labels).mean())
        accuracies[fraction] = float(np.mean(runs))
    return accuracies


def main() -> None:
    seqclass = yaml.safe_load(Path("config/config.yaml").read_text())["seqclass"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--widths", type=float, nargs="+", default=[0.125])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10], help="fine-tuning epochs")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.005, 0.01, 0.05, 1.0])
    parser.add_argument("--inits", nargs="+", default=["scratch", "simclr"])
    parser.add_argument("--pretrain-epochs", type=int, default=50)
    parser.add_argument("--positives", nargs="+", choices=POSITIVES, default=[seqclass["pretrain"]["positives"]],
                        help="pretraining positive pairs (default: config/config.yaml's)")
    parser.add_argument("--pretrain-seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--subset-seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--label-units", nargs="+", choices=LABEL_UNITS, default=[seqclass["finetune"]["label_unit"]],
                        help="label subsets of whole patients, whole series or single slices (default: the config's)")
    parser.add_argument("--head-inits", nargs="+", choices=HEAD_INITS, default=[seqclass["finetune"]["head_init"]],
                        help="a pretrained encoder's head: random, or a probe first (LP-FT; default: the config's)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/seqclass_budget"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in seqclass["finetune"].items() if k not in ("fractions", "val_labels", "label_unit")}
    slices = args.results / "seqclass/curate/internal/slices"
    train, val, test = (load_slices(slices / f"{s}.npy", slices / f"{s}.tsv") for s in ("train", "val", "test"))
    print(f"{len(train.index)} training, {len(val.index)} validation, {len(test.index)} test slices; "
          f"fine-tuning lr {settings['lr']:g}, pretraining recipes {seqclass['pretrain']['recipes']}, "
          f"temperature {seqclass['pretrain']['temperature']}", flush=True)
    subsets = {unit: {seed: label_fraction_subsets(train.index, args.fractions, seed, unit=unit)
                      for seed in args.subset_seeds} for unit in args.label_units}

    rows = []
    for width in args.widths:
        for init, encoder in initial_weights(args, train, seqclass, width):
            for unit in args.label_units:
                probe = linear_probe(encoder, width, train, test, subsets[unit])
                print(f"width {width:g}, {init}, whole {unit}: linear probe on frozen features "
                      + ", ".join(f"{f:g}: {a:.3f}" for f, a in probe.items()), flush=True)
            head_inits = args.head_inits if encoder is not None else ["random"]  # a probe needs pretrained features
            for epochs, head_init, unit, fraction, seed in itertools.product(
                    args.epochs, head_inits, args.label_units, args.fractions, args.subset_seeds):
                config = FinetuneConfig.from_dict({**settings, "epochs": epochs, "head_init": head_init,
                                                   "widen_factor": width, "seed": seed,
                                                   "augment": seqclass["augment"], "image_size": 84})
                began = time.perf_counter()
                result = finetune(train, subsets[unit][seed][fraction], val, config, encoder)
                accuracy = evaluate_classifier(result.state, test, config).accuracy
                seconds = time.perf_counter() - began
                rows.append({"width": width, "init": init, "epochs": epochs, "head_init": head_init,
                             "label_unit": unit, "fraction": fraction, "seed": seed, "accuracy": accuracy,
                             "seconds": seconds})
                print(f"width {width:g}, {init}, {epochs} epochs ({head_init} head), whole {unit}, "
                      f"fraction {fraction:g}, subset seed {seed}: test accuracy {accuracy:.3f} "
                      f"(best epoch {result.best_epoch}), {seconds:.0f} s", flush=True)
    table = (pd.DataFrame(rows)
             .groupby(["width", "epochs", "head_init", "label_unit", "fraction", "init"], sort=False)
             .agg(mean=("accuracy", "mean"), sd=("accuracy", "std"), runs=("accuracy", "size"),
                  seconds=("seconds", "sum")).reset_index())
    print("\ntest accuracy over the subset seeds\n" + table.to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    main()
