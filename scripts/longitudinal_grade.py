"""Rule longitudinal_grade: the IVD grading classifier from {init} on every nested training subset ->
test average class accuracy per subset + training history. Resumes from params.checkpoint_dir."""

import shutil

import numpy as np
import torch

from mrissl.longitudinal.grading import GradingConfig, grade_discs, read_grading_split
from mrissl.longitudinal.vertebrae import read_vertebrae_index
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

config = GradingConfig.from_dict(snakemake.params.settings)
split = read_grading_split(snakemake.input.split)
weights = torch.load(snakemake.input.weights, weights_only=True) if "weights" in snakemake.input.keys() else None
result = grade_discs(np.load(snakemake.input.ivd, mmap_mode="r"), read_vertebrae_index(snakemake.input.index), split,
                     snakemake.wildcards.init, config, snakemake.params.checkpoint_dir, weights)
result.results.to_csv(snakemake.output.results, sep="\t", index=False, lineterminator="\n", float_format="%.6g")
result.history.to_csv(snakemake.output.history, sep="\t", index=False, lineterminator="\n", float_format="%.6g")
shutil.rmtree(snakemake.params.checkpoint_dir)
