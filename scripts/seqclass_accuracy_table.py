"""Rule seqclass_accuracy_table: test accuracy per label fraction (rows) and pretraining run (columns)
-> results/tables/seqclass_table{1,2,3}.{csv,md,tex}, laid out like the paper's Tables 1-3."""

from pathlib import Path

import pandas as pd

from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])

fractions = snakemake.params.fractions
runs = pd.concat([
    pd.read_csv(path, sep="\t", dtype={"fraction": str}).assign(column=column)
    for path, column in zip(snakemake.input.accuracy, snakemake.params.columns)
])
mean = runs.groupby(["fraction", "column"])["accuracy"].mean()  # over seeds
table = mean.unstack("column").reindex(index=fractions, columns=list(dict.fromkeys(snakemake.params.columns)))
table.index = [f"{float(f) * 100:g}%" for f in fractions]
table = table.rename_axis(snakemake.params.corner).reset_index()
log.info("\n%s", table.to_string(index=False))
write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
