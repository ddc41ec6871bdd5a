"""Rule reportcl_loss_curves: pretraining losses per epoch of every variant and the MedicalNet-like
segmentation pretraining."""

import pandas as pd

from mrissl.figures import save_figure
from mrissl.reportcl.figures import loss_curves
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
metrics = {v: pd.read_csv(p, sep="\t") for v, p in zip(snakemake.params.variants, snakemake.input.metrics)}
segmentation = pd.read_csv(snakemake.input.segmentation, sep="\t")
save_figure(loss_curves(metrics, segmentation if segmentation["loss"].notna().any() else None), snakemake.output.png)
