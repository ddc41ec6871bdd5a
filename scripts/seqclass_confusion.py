"""Rule seqclass_confusion: row-normalised test confusion matrices per label fraction (columns) for a
pretrained encoder and the one from random weights (rows), counts summed over seeds
-> results/figures/seqclass_confusion.png"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mrissl.figures import save_figure
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])


def summed(paths):
    tables = [pd.read_csv(path, sep="\t", dtype={"fraction": str, "true": str}) for path in paths]
    return pd.concat(tables).groupby(["fraction", "true"], sort=False).sum()


fractions = snakemake.params.fractions
models = {name: summed(paths) for name, paths in zip(snakemake.params.rows,
                                                     [snakemake.input.pretrained, snakemake.input.scratch])}
fig, axes = plt.subplots(len(models), len(fractions), figsize=(2.2 * len(fractions) + 1.0, 2.5 * len(models)),
                         squeeze=False, layout="constrained")
for r, (name, confusion) in enumerate(models.items()):
    for c, fraction in enumerate(fractions):
        counts = confusion.loc[fraction]
        classes = list(counts.columns)
        rates = counts.to_numpy(dtype=float) / np.maximum(counts.to_numpy().sum(axis=1, keepdims=True), 1)
        accuracy = np.trace(counts.to_numpy()) / counts.to_numpy().sum()
        ax = axes[r, c]
        image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=6)
        ax.set_yticks(range(len(classes)), list(counts.index) if c == 0 else [], fontsize=6)
        ax.set_title(f"{float(fraction) * 100:g}% labels: acc {accuracy:.3f}", fontsize=8)
        if c == 0:
            ax.set_ylabel(f"{name}\ntrue class", fontsize=8)
        if r == len(models) - 1:
            ax.set_xlabel("predicted", fontsize=8)
fig.colorbar(image, ax=axes, shrink=0.8, label="fraction of the true class")
log.info("wrote %s", save_figure(fig, snakemake.output.png))
