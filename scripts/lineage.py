"""Rule lineage: the audit record of one table or figure -> results/lineage/{kind}/{file}.json"""

from mrissl.lineage import write_lineage
from mrissl.runlog import log_to

log_to(snakemake.log[0])

write_lineage(snakemake.input.product, snakemake.output.record, redact=snakemake.params.redact)
