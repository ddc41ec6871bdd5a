"""Rule reportcl_medicalnet_init: the "MedicalNet" image-encoder init (a user's checkpoint, or the
MedicalNet-like phantom segmentation pretraining) -> encoder state dict + per-epoch table."""

import torch

from mrissl.manifest import write_table
from mrissl.reportcl.medicalnet import medicalnet_init
from mrissl.training import resolve_device
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
fixed = snakemake.params.fixed
state, metrics = medicalnet_init(fixed["width"], fixed["dropout"], snakemake.params.volume_shape,
                                 snakemake.params.checkpoint, snakemake.params.settings, fixed["seed"],
                                 resolve_device(fixed["device"]))
log.info("MedicalNet init: %s", metrics["source"].iloc[0])
torch.save(state, snakemake.output.encoder)
write_table(metrics, snakemake.output.metrics, list(metrics.columns))
