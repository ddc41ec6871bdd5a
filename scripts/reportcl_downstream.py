"""Rule reportcl_downstream: 5-fold BRAF fusion vs V600E classification from one init, each fold's
model also tested on the external set; per-fold AUC/precision/recall/F1 and attention Dice."""

import numpy as np
import pandas as pd
import torch

from mrissl.manifest import write_table
from mrissl.reportcl.curation import read_tumour_index
from mrissl.reportcl.downstream import DownstreamConfig, evaluate_init
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
config = DownstreamConfig.from_dict(snakemake.params.settings)
init = snakemake.wildcards.init
state = torch.load(snakemake.input.encoder[0], weights_only=True) if snakemake.input.encoder else None
result, per_fold = evaluate_init(
    init, state,
    read_tumour_index(snakemake.input.internal_index), np.load(snakemake.input.internal_images, mmap_mode="r"),
    np.load(snakemake.input.internal_masks, mmap_mode="r"),
    pd.read_csv(snakemake.input.folds, sep="\t", dtype={"patient_key": str}),
    read_tumour_index(snakemake.input.external_index), np.load(snakemake.input.external_images, mmap_mode="r"),
    np.load(snakemake.input.external_masks, mmap_mode="r"), config,
)
log.info("%s:\n%s", init, per_fold.groupby("dataset").mean(numeric_only=True).to_string())
write_table(per_fold.round(6), snakemake.output.per_fold, list(per_fold.columns))
write_table(result.predictions.round(6), snakemake.output.predictions, list(result.predictions.columns))
write_table(result.history.round(6), snakemake.output.history, list(result.history.columns))
np.savez_compressed(snakemake.output.maps, internal=result.internal_maps, external=result.external_maps,
                    internal_rows=result.predictions.query("dataset == 'internal'")
                    .sort_values("row")["row"].to_numpy(),
                    external_rows=result.predictions.query("dataset == 'external' and fold == 0")["row"].to_numpy())
