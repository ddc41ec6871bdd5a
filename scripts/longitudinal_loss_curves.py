"""Rule longitudinal_loss_curves: Siamese and grading training histories -> loss curves."""

import pandas as pd

from mrissl.figures import save_figure
from mrissl.longitudinal.figures import loss_curves
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
grading = pd.concat([pd.read_csv(path, sep="\t") for path in snakemake.input.histories], ignore_index=True)
log.info("wrote %s", save_figure(loss_curves(pd.read_csv(snakemake.input.siamese), grading), snakemake.output.png))
