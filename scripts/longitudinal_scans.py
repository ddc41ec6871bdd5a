"""Rule longitudinal_scans: the spine cohort's scans keyed by subject and twin pair, and their disc gradings."""

from mrissl.longitudinal.curation import GRADING_COLUMNS, SCAN_TABLE_COLUMNS, link_cohort, read_raw_scans
from mrissl.manifest import QUARANTINE_COLUMNS, read_manifest, write_table
from mrissl.readers import read_spider_gradings
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
gradings, gradings_quarantine = read_spider_gradings(snakemake.input.data, snakemake.params.salt)
scans, gradings = link_cohort(
    read_manifest(snakemake.input.manifest),
    read_raw_scans(snakemake.input.scans),
    gradings,
    snakemake.params.salt,
)
log.info("%d scans of %d subjects, %d graded discs, %d gradings rows quarantined",
         len(scans), scans["subject_key"].nunique(), len(gradings), len(gradings_quarantine))
write_table(scans, snakemake.output.scans, SCAN_TABLE_COLUMNS)
write_table(gradings, snakemake.output.gradings, GRADING_COLUMNS)
write_table(gradings_quarantine, snakemake.output.gradings_quarantine, QUARANTINE_COLUMNS)
