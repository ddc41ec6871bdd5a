"""Rule longitudinal_fig6: test-pair distances -> histogram and ROC (paper 002, Fig. 6)."""

import pandas as pd

from mrissl.figures import save_figure
from mrissl.longitudinal.figures import fig6
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
log.info("wrote %s", save_figure(fig6(pd.read_csv(snakemake.input.distances, sep="\t")), snakemake.output.png))
