"""Rule reportcl_clean_reports: radiology reports without dates, numbers, punctuation and marker words, tokenised."""

import numpy as np

from mrissl.reportcl.reports import CLEAN_COLUMNS, clean_reports
from mrissl.reportcl.curation import key_subjects, read_tumour_index
from mrissl.manifest import QUARANTINE_COLUMNS, write_table
from mrissl.readers.reports import read_reports
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
reports, quarantine = read_reports(snakemake.input.reports, ["subject"], snakemake.params.salt)
write_table(quarantine, snakemake.output.quarantine, QUARANTINE_COLUMNS)
reports = key_subjects(reports, snakemake.params.salt, snakemake.params.source)
table, token_ids, attention_mask = clean_reports(
    reports, read_tumour_index(snakemake.input.index), snakemake.params.text_encoder, snakemake.params.max_length
)
write_table(table, snakemake.output.table, CLEAN_COLUMNS)
np.save(snakemake.output.token_ids, token_ids)
np.save(snakemake.output.attention_mask, attention_mask)
