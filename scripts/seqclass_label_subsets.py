"""Rule seqclass_label_subsets: the labelled training rows of each fraction -> label_subsets/seed{seed}.tsv

Nested (a smaller fraction's rows lie inside every larger one's), whole patients, whole series or
single slices (seqclass.finetune.label_unit), fixed by the seed;
fine-tuning and the header baseline both read them from here.
"""

import pandas as pd

from mrissl.seqclass.slices import label_fraction_subsets, read_slice_index
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])

index = read_slice_index(snakemake.input.train_index)
subsets = label_fraction_subsets(index, snakemake.params.fractions, int(snakemake.wildcards.seed),
                                 by_class=snakemake.params.by_class, unit=snakemake.params.unit)
by_row = index.set_index("row")
table = pd.concat([
    by_row.loc[rows, ["patient_key", "label"]].reset_index().assign(fraction=format(fraction, "g"))
    for fraction, rows in subsets.items()
])[["fraction", "row", "patient_key", "label"]]
table.to_csv(snakemake.output.subsets, sep="\t", index=False, lineterminator="\n")
for fraction, rows in subsets.items():
    log.info("fraction %g: %d of %d slices, %d patients", fraction, len(rows), len(index),
             by_row.loc[rows, "patient_key"].nunique())
