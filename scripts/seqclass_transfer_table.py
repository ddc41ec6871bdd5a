"""Rule seqclass_transfer_table: per external site and label fraction, the test accuracy on the site's
sequences in the three scenarios of Fig. 3 -> results/tables/seqclass_transfer.{csv,md,tex}"""

from pathlib import Path

import pandas as pd

from mrissl.runlog import log_to
from mrissl.tables import mean_accuracy_by_fraction, percent_labels, write_table_formats

log = log_to(snakemake.log[0])

fractions = snakemake.params.fractions
per_site = []
for site in dict.fromkeys(snakemake.params.sites):
    mine = [i for i, s in enumerate(snakemake.params.sites) if s == site]
    table = mean_accuracy_by_fraction([snakemake.input.accuracy[i] for i in mine],
                                      [snakemake.params.scenarios[i] for i in mine], fractions)
    subsets = pd.concat([pd.read_csv(path, sep="\t", dtype={"fraction": str})
                         for path, s in zip(snakemake.input.subsets, snakemake.params.subset_sites) if s == site])
    n_seeds = snakemake.params.subset_sites.count(site)
    own = subsets[subsets["label"].isin(snakemake.params.classes[site])]
    # A count of images: the mean over seeds, rounded (exact with one seed).
    per_fraction = (own.groupby("fraction").size() / n_seeds).reindex(fractions).fillna(0)
    table["site images"] = per_fraction.round().astype(int).to_numpy()
    table.index = percent_labels(fractions)
    per_site.append(table.rename_axis("fraction").reset_index().assign(site=site))
table = pd.concat(per_site, ignore_index=True)
table = table[["site", "fraction", *[c for c in table.columns if c not in ("site", "fraction")]]]
log.info("\n%s", table.to_string(index=False))
write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
