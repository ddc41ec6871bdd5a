"""Rule clip_fig5: training and validation loss per epoch (paper 003 Fig. 5) -> results/figures/clip_fig5.png"""

import pandas as pd

from mrissl.clip.figures import loss_curves_figure
from mrissl.figures import save_figure
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
figure = loss_curves_figure(pd.read_csv(snakemake.input.metrics, sep="\t"))
log.info("wrote %s", save_figure(figure, snakemake.output.png))
