"""Rule seqclass_accuracy_table: test accuracy per label fraction (rows) and pretraining run (columns)
-> results/tables/seqclass_table{1,2,3}.{csv,md,tex}, laid out like the paper's Tables 1-3."""

from pathlib import Path

from mrissl.runlog import log_to
from mrissl.tables import mean_accuracy_by_fraction, percent_labels, write_table_formats

log = log_to(snakemake.log[0])

fractions = snakemake.params.fractions
table = mean_accuracy_by_fraction(snakemake.input.accuracy, snakemake.params.columns, fractions)
table.index = percent_labels(fractions)
table = table.rename_axis(snakemake.params.corner).reset_index()
log.info("\n%s", table.to_string(index=False))
write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
