"""Rule longitudinal_supervised: the supervised stand-in for SpineNet (IVD level + disc narrowing on the
grading split's training subjects) -> weights + metrics.csv. Resumes from params.checkpoint_dir."""

import shutil

import numpy as np
import torch

from mrissl.longitudinal.curation import read_gradings
from mrissl.longitudinal.grading import SupervisedConfig, read_grading_split, supervised_pretrain
from mrissl.longitudinal.vertebrae import read_vertebrae_index
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

config = SupervisedConfig.from_dict(snakemake.params.settings)
split = read_grading_split(snakemake.input.split)
weights, history = supervised_pretrain(
    np.load(snakemake.input.ivd, mmap_mode="r"), read_vertebrae_index(snakemake.input.index),
    read_gradings(snakemake.input.gradings), split, config, snakemake.params.checkpoint_dir,
)
torch.save(weights, snakemake.output.model)
history.to_csv(snakemake.output.metrics, index=False, lineterminator="\n", float_format="%.6g")
shutil.rmtree(snakemake.params.checkpoint_dir)
