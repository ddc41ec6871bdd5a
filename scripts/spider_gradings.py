"""Rule spider_gradings: SPIDER's radiological_gradings.csv keyed by salted patient keys; rows of unknown levels quarantined."""

from mrissl.manifest import QUARANTINE_COLUMNS, write_table
from mrissl.readers import read_spider_gradings
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
gradings, quarantine = read_spider_gradings(snakemake.input.root, snakemake.params.salt)
log.info("%d graded discs, %d gradings rows quarantined", len(gradings), len(quarantine))
gradings.to_csv(snakemake.output.gradings, sep="\t", index=False)
write_table(quarantine, snakemake.output.quarantine, QUARANTINE_COLUMNS)
