"""Rule longitudinal_fig8: each initialisation's results -> learning curves (paper 002, Fig. 8)."""

import pandas as pd

from mrissl.figures import save_figure
from mrissl.longitudinal.figures import fig8
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
results = pd.concat([pd.read_csv(path, sep="\t") for path in snakemake.input.results], ignore_index=True)
log.info("wrote %s", save_figure(fig8(results), snakemake.output.png))
