"""Rule ingest_shard: check and convert the series of one shard's patients to NIfTI."""

from mrissl.ingest import ingest_shard
from mrissl.manifest import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, write_table
from mrissl.runlog import log_to

log_to(snakemake.log[0])

manifest, quarantine = ingest_shard(
    snakemake.input.index,
    snakemake.wildcards.shard,
    snakemake.output.nifti,
    salt=snakemake.params.salt,
    min_slices=snakemake.params.min_slices,
    source=snakemake.params.source,
    root=snakemake.params.root,
    label_tables=snakemake.input.labels,
    threads=snakemake.threads,
)
write_table(manifest, snakemake.output.manifest, MANIFEST_COLUMNS)
write_table(quarantine, snakemake.output.quarantine, QUARANTINE_COLUMNS)
