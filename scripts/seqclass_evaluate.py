"""Rule seqclass_evaluate: each fine-tuned classifier on the test split -> accuracy, per-class accuracy, confusion."""

import pandas as pd
import torch

from mrissl.seqclass.datasets import load_slices
from mrissl.seqclass.finetune import FinetuneConfig, evaluate_classifier
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

config = FinetuneConfig.from_dict(snakemake.params.settings)
test = load_slices(snakemake.input.test_array, snakemake.input.test_index)
accuracy, per_class, confusion = [], [], []
for fraction, model_path in zip(snakemake.params.fractions, snakemake.input.models):
    metrics = evaluate_classifier(torch.load(model_path, map_location="cpu", weights_only=True), test, config)
    log.info("fraction %s: test accuracy %.4f on %d slices", fraction, metrics.accuracy, len(test.index))
    accuracy.append({"fraction": fraction, "accuracy": metrics.accuracy, "n_test": len(test.index)})
    per_class.append(metrics.per_class.assign(fraction=fraction))
    confusion.append(metrics.confusion.reset_index().assign(fraction=fraction))


def write(df, path, first):
    df[first + [c for c in df.columns if c not in first]].to_csv(path, sep="\t", index=False, lineterminator="\n")


write(pd.DataFrame(accuracy), snakemake.output.accuracy, ["fraction"])
write(pd.concat(per_class), snakemake.output.per_class, ["fraction"])
write(pd.concat(confusion), snakemake.output.confusion, ["fraction", "true"])
