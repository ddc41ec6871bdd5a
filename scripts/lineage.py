"""Rule lineage: the audit record of one table or figure -> results/lineage/{kind}/{file}.json"""

import logging

from mrissl.lineage import write_lineage

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.captureWarnings(True)

write_lineage(snakemake.input.product, snakemake.output.record, redact=snakemake.params.redact)
