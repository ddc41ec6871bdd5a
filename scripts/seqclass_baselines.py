"""Rule seqclass_baselines: per label fraction, the ResNet-18 from random weights and the DICOM-header
random forest (per slice and per series) -> results/tables/seqclass_baselines.{csv,md,tex}"""

from pathlib import Path

import pandas as pd

from mrissl.runlog import log_to
from mrissl.tables import mean_and_spread, percent_labels, write_table_formats

log = log_to(snakemake.log[0])


def runs_of(paths, columns):
    """One row per (seed, fraction, column) of the given accuracy columns, renamed as in ``columns``."""
    runs = pd.concat(pd.read_csv(path, sep="\t", dtype={"fraction": str}) for path in paths)
    return runs.melt(id_vars="fraction", value_vars=list(columns), var_name="column").replace({"column": columns})


names = {"accuracy": "scratch", "accuracy_slices": "header_per_slice", "accuracy_series": "header_per_series"}
runs = pd.concat([runs_of(snakemake.input.scratch, {"accuracy": names["accuracy"]}),
                  runs_of(snakemake.input.header, {k: names[k] for k in ("accuracy_slices", "accuracy_series")})])
fractions = snakemake.params.fractions
table = mean_and_spread(runs, fractions, list(names.values()))
table.index = pd.Index(percent_labels(fractions), name="fraction")
table = table.reset_index()
log.info("\n%s", table.to_string(index=False))
write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
