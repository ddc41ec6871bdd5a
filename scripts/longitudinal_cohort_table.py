"""Rule longitudinal_cohort_table: subjects, scans, follow-ups, twins, grades per split -> a table."""

from pathlib import Path

from mrissl.longitudinal.curation import cohort_table, read_gradings, read_scan_table
from mrissl.splits import read_splits
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
table = cohort_table(
    read_scan_table(snakemake.input.scans), read_splits(snakemake.input.splits), read_gradings(snakemake.input.gradings)
)
written = write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
log.info("wrote %s", ", ".join(map(str, written)))
