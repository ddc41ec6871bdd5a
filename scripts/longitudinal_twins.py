"""Rule longitudinal_twins: test-pair distances -> distributions per relation (same subject, MZ, DZ, unrelated)."""

import pandas as pd

from mrissl.figures import save_figure
from mrissl.longitudinal.figures import twins_figure
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
log.info("wrote %s", save_figure(twins_figure(pd.read_csv(snakemake.input.distances, sep="\t")),
                                 snakemake.output.png))
