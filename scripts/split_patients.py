"""Rule split_patients: patient-level train/val/test splits of the manifest."""

import logging

from mrissl.curate.splits import SPLITS_COLUMNS, split_patients
from mrissl.manifest import read_manifest, write_table

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.captureWarnings(True)

splits = split_patients(read_manifest(snakemake.input.manifest), snakemake.params.fractions, snakemake.params.seed)
write_table(splits, snakemake.output.splits, SPLITS_COLUMNS)
