"""Rule reportcl_pretrain: MRI-report contrastive pretraining of one variant -> image encoder + metrics.

Resumes from params.checkpoint_dir (last.pt) when a killed job is started again; the folder is
removed once the outputs are written, so a later re-run trains afresh.
"""

import shutil

import torch

from mrissl.manifest import write_table
from mrissl.reportcl.train import METRIC_COLUMNS, PretrainConfig, PretrainData, pretrain
from mrissl.runlog import log_to
from mrissl.text_encoders import load_text_model

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
config = PretrainConfig.from_dict(snakemake.params.settings)
log.info("%s: %s", snakemake.wildcards.variant, config)
result = pretrain(PretrainData.load(snakemake.input.frozen), load_text_model(snakemake.params.text_encoder),
                  torch.load(snakemake.input.encoder, weights_only=True), config, snakemake.params.checkpoint_dir)
torch.save(result.encoder, snakemake.output.encoder)
write_table(result.metrics.round(6), snakemake.output.metrics, METRIC_COLUMNS)
shutil.rmtree(snakemake.params.checkpoint_dir)
