"""Rule longitudinal_pairs: the Siamese network on every test-split VB pair -> distances + level predictions."""

import numpy as np
import torch

from mrissl.longitudinal.curation import read_scan_table
from mrissl.longitudinal.inference import pair_distances
from mrissl.longitudinal.models import NetworkConfig
from mrissl.config import config_from_section
from mrissl.longitudinal.pairs import vb_table
from mrissl.longitudinal.vertebrae import read_vertebrae_index
from mrissl.runlog import log_to
from mrissl.splits import read_splits

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

table = vb_table(read_vertebrae_index(snakemake.input.index), read_scan_table(snakemake.input.scans),
                 read_splits(snakemake.input.splits))
distances, levels = pair_distances(
    np.load(snakemake.input.vb, mmap_mode="r"), table, torch.load(snakemake.input.model, weights_only=True),
    config_from_section(NetworkConfig, snakemake.params.network, "longitudinal.network"),
    split="test", device=snakemake.params.device,
)
log.info("%d test pairs (%d positive), %d VBs", len(distances), int(distances["same"].sum()), len(levels))
distances.to_csv(snakemake.output.distances, sep="\t", index=False, lineterminator="\n", float_format="%.6g")
levels.to_csv(snakemake.output.levels, sep="\t", index=False, lineterminator="\n")
