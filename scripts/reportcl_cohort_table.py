"""Rule reportcl_cohort_table: genetic markers by tumour location per dataset (cf. paper Table 6)."""

from pathlib import Path

from mrissl.reportcl.curation import cohort_table, read_tumour_index
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
table = cohort_table({name: read_tumour_index(path) for name, path in zip(snakemake.params.names, snakemake.input)})
stem = Path(snakemake.output.csv).with_suffix("")
log.info("wrote %s", write_table_formats(table, stem, snakemake.params.caption))
