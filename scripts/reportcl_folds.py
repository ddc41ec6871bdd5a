"""Rule reportcl_folds: patient-level cross-validation folds of the internal tumour cohort, by marker."""

from mrissl.reportcl.curation import FOLD_COLUMNS, patient_folds, read_tumour_index
from mrissl.manifest import write_table
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
folds = patient_folds(read_tumour_index(snakemake.input.index), snakemake.params.n_folds, snakemake.params.seed)
write_table(folds, snakemake.output.folds, FOLD_COLUMNS)
