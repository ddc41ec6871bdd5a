"""Rule longitudinal_split: train/val/test by subject, twin pairs kept together -> results/longitudinal/splits.tsv"""

from mrissl.longitudinal.curation import read_scan_table, split_subjects
from mrissl.splits import SPLITS_COLUMNS
from mrissl.manifest import write_table
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
splits = split_subjects(read_scan_table(snakemake.input.scans), snakemake.params.fractions, snakemake.params.seed)
log.info("splits: %s subjects", splits["split"].value_counts().to_dict())
write_table(splits, snakemake.output.splits, SPLITS_COLUMNS)
