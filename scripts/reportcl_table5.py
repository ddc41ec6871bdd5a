"""Rule reportcl_table5: ablations (paper Table 5), each a pretraining followed by the 5-fold downstream,
scored on the external set."""

from pathlib import Path

import pandas as pd

from mrissl.reportcl.stats import ablation_table
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
per_fold = pd.concat([pd.read_csv(p, sep="\t") for p in snakemake.input.per_fold], ignore_index=True)
table = ablation_table(per_fold, dict(snakemake.params.experiments))
log.info("\n%s", table.to_string())
write_table_formats(table, Path(snakemake.output.csv).with_suffix(""),
                    "Table 5: ablations of the contrastive pretraining; external mean AUC, F1 and 2D attention Dice "
                    "over the 5 folds' models.")
