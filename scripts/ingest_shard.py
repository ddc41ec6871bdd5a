"""Rule ingest_shard: check and convert the series of one shard's patients to NIfTI."""

import logging

from mrissl.ingest import ingest_shard
from mrissl.manifest import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, write_table

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.captureWarnings(True)

manifest, quarantine = ingest_shard(
    snakemake.input.index,
    snakemake.wildcards.shard,
    snakemake.output.nifti,
    salt=snakemake.params.salt,
    min_slices=snakemake.params.min_slices,
    source=snakemake.params.source,
    label_tables=snakemake.input.labels,
    threads=snakemake.threads,
)
write_table(manifest, snakemake.output.manifest, MANIFEST_COLUMNS)
write_table(quarantine, snakemake.output.quarantine, QUARANTINE_COLUMNS)
