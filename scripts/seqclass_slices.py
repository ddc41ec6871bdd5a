"""Rule seqclass_slices: one split's central slices in three planes -> {split}.npy + {split}.tsv."""

import torch

from mrissl.seqclass.slices import extract_split_slices
from mrissl.splits import read_splits
from mrissl.manifest import read_manifest
from mrissl.runlog import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)  # the slice resize runs on torch

extract_split_slices(
    read_manifest(snakemake.input.manifest),
    read_splits(snakemake.input.splits),
    snakemake.wildcards.split,
    snakemake.output.array,
    snakemake.output.index,
    **snakemake.params.slicing,
)
