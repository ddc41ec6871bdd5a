"""Rule longitudinal_grading_table: each initialisation's results -> average class accuracy, method x size."""

from pathlib import Path

import pandas as pd

from mrissl.longitudinal.evaluate import grading_table
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
table = grading_table(pd.concat([pd.read_csv(path, sep="\t") for path in snakemake.input.results], ignore_index=True))
written = write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
log.info("wrote %s", ", ".join(map(str, written)))
