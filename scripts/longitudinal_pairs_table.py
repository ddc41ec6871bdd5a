"""Rule longitudinal_pairs_table: test-pair distances and level predictions -> AUC, level accuracy, twins."""

from pathlib import Path

import pandas as pd

from mrissl.longitudinal.evaluate import pairs_table
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
table = pairs_table(pd.read_csv(snakemake.input.distances, sep="\t"), pd.read_csv(snakemake.input.levels, sep="\t"))
written = write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
log.info("wrote %s", ", ".join(map(str, written)))
