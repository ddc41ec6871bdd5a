"""Rule seqclass_split: patient-level train/val/test splits of the manifest."""

from mrissl.splits import SPLITS_COLUMNS, split_patients
from mrissl.manifest import read_manifest, write_table
from mrissl.runlog import log_to

log_to(snakemake.log[0])

splits = split_patients(read_manifest(snakemake.input.manifest), snakemake.params.fractions, snakemake.params.seed)
write_table(splits, snakemake.output.splits, SPLITS_COLUMNS)
