"""Rule spider_gradings: SPIDER's radiological_gradings.csv keyed by salted patient keys."""

from mrissl.readers import read_spider_gradings
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
gradings = read_spider_gradings(snakemake.input.root, snakemake.params.salt)
log.info("%d graded discs", len(gradings))
gradings.to_csv(snakemake.output.gradings, sep="\t", index=False)
