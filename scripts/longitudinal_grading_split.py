"""Rule longitudinal_grading_split: graded subjects -> train / val / test (follow-ups in training) + subset order."""

from mrissl.longitudinal.curation import read_gradings, read_scan_table
from mrissl.longitudinal.grading import GRADING_SPLIT_COLUMNS, grading_split
from mrissl.manifest import write_table
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
gradings = read_gradings(snakemake.input.gradings)
split = grading_split(read_scan_table(snakemake.input.scans), set(gradings["scan_key"]),
                      snakemake.params.proportions, snakemake.params.seed)
log.info("graded subjects per split: %s", split["split"].value_counts().to_dict())
write_table(split, snakemake.output.split, GRADING_SPLIT_COLUMNS)
