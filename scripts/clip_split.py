"""Rule clip_split: train/val/test by patient, val and test balanced over report classes (paper 003 Table 1)."""

import pandas as pd

from mrissl.clip.curation import CLIP_SPLITS_COLUMNS, balanced_split
from mrissl.manifest import write_table
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
index = pd.read_csv(snakemake.input.index, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
splits = balanced_split(index, snakemake.params.counts, snakemake.params.seed)
write_table(splits, snakemake.output.splits, CLIP_SPLITS_COLUMNS)
