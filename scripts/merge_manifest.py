"""Rule merge_manifest: the shards' manifests and quarantines as one manifest and one quarantine table."""

from mrissl.ingest import merge_manifest, read_text_table
from mrissl.manifest import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, write_table
from mrissl.runlog import log_to

log_to(snakemake.log[0])

manifest, quarantine = merge_manifest(
    snakemake.input.index,
    [read_text_table(path) for path in snakemake.input.manifests],
    [read_text_table(path) for path in snakemake.input.quarantines],
    snakemake.params.root,
)
write_table(manifest, snakemake.output.manifest, MANIFEST_COLUMNS)
write_table(quarantine, snakemake.output.quarantine, QUARANTINE_COLUMNS)
