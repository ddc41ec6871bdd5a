"""Rule seqclass_pretrain: SimCLR or SimSiam on the training images -> encoders (epoch 0, final) + metrics.csv

Resumes from params.checkpoint_dir (last.pt) when a killed job is started again; the folder is
removed once the outputs are written, so a later re-run (new code, new data) trains afresh.
"""

import shutil

import numpy as np
import torch

from mrissl.runlog import log_to
from mrissl.seqclass.train import PretrainConfig, pretrain

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

config = PretrainConfig.from_dict(snakemake.params.settings)
images = np.load(snakemake.input.array, mmap_mode="r")
run = "{method}_b{batch}_px{px}".format(**snakemake.wildcards)
log.info("%s: %d training images, %s", run, len(images), config)
result = pretrain(images, config, snakemake.params.checkpoint_dir)

torch.save(result.encoder_initial, snakemake.output.encoder_epoch0)
torch.save(result.encoder_final, snakemake.output.encoder_final)
result.metrics.to_csv(snakemake.output.metrics, index=False, lineterminator="\n")
shutil.rmtree(snakemake.params.checkpoint_dir)
