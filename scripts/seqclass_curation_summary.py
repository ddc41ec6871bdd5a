"""Rule seqclass_curation_summary: series and slices per class and split -> results/tables/seqclass_curation_summary.*"""

import logging
from pathlib import Path

from mrissl.seqclass.slices import read_slice_index, summarise_curation
from mrissl.tables import write_table_formats
from mrissl.runlog import log_to

log_to(snakemake.log[0])

indexes = {split: read_slice_index(path) for split, path in zip(snakemake.params.splits, snakemake.input.indexes)}
table = summarise_curation(indexes)
written = write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
logging.info("wrote %s", ", ".join(map(str, written)))
