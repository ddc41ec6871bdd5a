"""Rule read_dataset: a real dataset in its published layout -> manifest + quarantine (+ its private paths)."""

from mrissl.manifest import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, write_table
from mrissl.readers import read_dataset
from mrissl.readers.rows import QUARANTINE_PATH_COLUMNS
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
manifest, quarantine = read_dataset(
    snakemake.params.source, snakemake.input.root, snakemake.params.salt, snakemake.output.nifti
)
log.info("%d series in the manifest, %d files quarantined", len(manifest), len(quarantine))
write_table(manifest, snakemake.output.manifest, MANIFEST_COLUMNS)
write_table(quarantine, snakemake.output.quarantine, QUARANTINE_COLUMNS)
write_table(quarantine, snakemake.output.quarantine_paths, QUARANTINE_PATH_COLUMNS)  # outside results/
