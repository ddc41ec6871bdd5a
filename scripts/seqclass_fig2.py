"""Rule seqclass_fig2: t-SNE (top) and UMAP (bottom) of test embeddings at each stage, coloured by
class, with the silhouette of the features -> results/figures/seqclass_fig2.png (the paper's Fig. 2)."""

import matplotlib.pyplot as plt
import pandas as pd

from mrissl.curate import ordered_classes
from mrissl.figures import save_figure
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])

maps = pd.read_csv(snakemake.input.maps, sep="\t", dtype={"label": str})
scores = pd.read_csv(snakemake.input.silhouette, sep="\t").set_index("stage")["silhouette"]
stages = list(scores.index)
classes = ordered_classes(maps["label"])
colours = dict(zip(classes, plt.get_cmap("tab10").colors))

fig, axes = plt.subplots(2, len(stages), figsize=(2.3 * len(stages), 5.0), squeeze=False)
for column, stage in enumerate(stages):
    of_stage = maps[maps["stage"] == stage]
    for row, method in enumerate(["tsne", "umap"]):
        ax = axes[row, column]
        for label in classes:
            points = of_stage[of_stage["label"] == label]
            ax.scatter(points[f"{method}_x"], points[f"{method}_y"], s=3, color=colours[label], label=label,
                       linewidths=0, rasterized=True)
        ax.set_xticks([])
        ax.set_yticks([])
        if row == 0:
            ax.set_title(f"{stage}\nsilhouette {scores[stage]:.2f}", fontsize=8)
        if column == 0:
            ax.set_ylabel({"tsne": "t-SNE", "umap": "UMAP"}[method], fontsize=9)
handles, labels = axes[0, 0].get_legend_handles_labels()
fig.legend(handles, labels, loc="lower center", ncol=len(classes), fontsize=8, markerscale=4, frameon=False)
fig.suptitle(snakemake.params.title, fontsize=9)
fig.tight_layout(rect=(0, 0.06, 1, 0.97), pad=0.4)
log.info("wrote %s", save_figure(fig, snakemake.output.png))
