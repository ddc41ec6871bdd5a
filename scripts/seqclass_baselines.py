"""Rule seqclass_baselines: per label fraction, the ResNet-18 from random weights and the DICOM-header
random forest (per slice and per series) -> results/tables/seqclass_baselines.{csv,md,tex}"""

from pathlib import Path

import pandas as pd

from mrissl.runlog import log_to
from mrissl.tables import percent_labels, write_table_formats

log = log_to(snakemake.log[0])


def mean_over_seeds(paths, columns):
    runs = pd.concat(pd.read_csv(path, sep="\t", dtype={"fraction": str}) for path in paths)
    return runs.groupby("fraction")[columns].mean()


scratch = mean_over_seeds(snakemake.input.scratch, ["accuracy"]).rename(columns={"accuracy": "scratch"})
header = mean_over_seeds(snakemake.input.header, ["accuracy_slices", "accuracy_series"]).rename(
    columns={"accuracy_slices": "header_per_slice", "accuracy_series": "header_per_series"})
fractions = snakemake.params.fractions
table = scratch.join(header).reindex(fractions)
table.index = pd.Index(percent_labels(fractions), name="fraction")
table = table.reset_index()
log.info("\n%s", table.to_string(index=False))
write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
