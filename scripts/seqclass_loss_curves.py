"""Rule seqclass_loss_curves: pretraining loss per epoch of every run (SimCLR, SimSiam) and SimCLR's
contrastive top-1 accuracy, mean over seeds -> results/figures/seqclass_loss_curves.png"""

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import pandas as pd

from mrissl.figures import save_figure
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])

metrics = pd.concat(pd.read_csv(path).assign(run=run)
                    for path, run in zip(snakemake.input.metrics, snakemake.params.runs))
mean = metrics.groupby(["run", "epoch"], sort=False)[["loss", "contrastive_top1"]].mean().reset_index()
panels = [("simclr", "loss", "SimCLR NT-Xent loss"), ("simsiam", "loss", "SimSiam loss (-cosine)"),
          ("simclr", "contrastive_top1", "SimCLR contrastive top-1 accuracy")]
fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
for ax, (method, column, title) in zip(axes[0], panels):
    for run, curve in mean[mean["run"].str.startswith(method + "_")].groupby("run", sort=False):
        ax.plot(curve["epoch"], curve[column], marker="o", markersize=3, label=run.removeprefix(method + "_"))
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if ax.has_data():
        ax.legend(fontsize=7, title="batch_px", title_fontsize=7)
fig.tight_layout()
log.info("wrote %s", save_figure(fig, snakemake.output.png))
