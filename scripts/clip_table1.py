"""Rule clip_table1: studies per split and report-derived class, with label noise -> results/tables/clip_table1.*"""

from pathlib import Path

import pandas as pd

from mrissl.clip.tables import split_class_table
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
read = dict(sep="\t", dtype=str, keep_default_na=False, na_values=[""])
table = split_class_table(pd.read_csv(snakemake.input.splits, **read), pd.read_csv(snakemake.input.index, **read))
written = write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
log.info("wrote %s", ", ".join(map(str, written)))
