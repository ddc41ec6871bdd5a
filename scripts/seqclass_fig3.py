"""Rule seqclass_fig3: accuracy on each external site's sequences per label fraction, one panel per
site, one line per scenario (paper 000, Fig. 3) -> results/figures/seqclass_fig3.png"""

import matplotlib.pyplot as plt
import pandas as pd

from mrissl.figures import save_figure
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])

table = pd.read_csv(snakemake.input.table)
scenarios = [c for c in table.columns if c not in ("site", "fraction")]
sites = list(dict.fromkeys(table["site"]))
fig, axes = plt.subplots(1, len(sites), figsize=(4.2 * len(sites), 3.8), squeeze=False, sharey=True,
                         layout="constrained")
for ax, site in zip(axes[0], sites):
    rows = table[table["site"] == site]
    positions = range(len(rows))  # label fractions are spaced evenly, as the paper's axis
    for scenario, marker in zip(scenarios, "osD"):
        ax.plot(positions, rows[scenario], marker=marker, label=scenario)
    ax.set_xticks(positions, rows["fraction"])
    ax.set_xlabel("labelled fraction for fine-tuning")
    ax.set_title(f"{site} ({', '.join(snakemake.params.classes[site])})")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
axes[0, 0].set_ylabel("test accuracy on the site's sequences")
handles, labels = axes[0, 0].get_legend_handles_labels()
fig.legend(handles, labels, loc="outside lower center", ncols=len(scenarios), fontsize=8)
log.info("wrote %s", save_figure(fig, snakemake.output.png))
