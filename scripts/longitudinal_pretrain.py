"""Rule longitudinal_pretrain: the Siamese network on the training split's VB pairs -> weights + metrics.csv

Resumes from params.checkpoint_dir (last.pt) when a killed job is started again; the folder is
removed once the outputs are written, so a later re-run (new code, new data) trains afresh.
"""

import shutil

import numpy as np
import torch

from mrissl.longitudinal.curation import read_scan_table
from mrissl.longitudinal.pairs import vb_table
from mrissl.longitudinal.train import SiameseConfig, train_siamese
from mrissl.longitudinal.vertebrae import read_vertebrae_index
from mrissl.runlog import log_to
from mrissl.splits import read_splits

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

config = SiameseConfig.from_dict(snakemake.params.settings)
table = vb_table(read_vertebrae_index(snakemake.input.index), read_scan_table(snakemake.input.scans),
                 read_splits(snakemake.input.splits))
log.info("%d VBs, %s", len(table), config)
result = train_siamese(np.load(snakemake.input.vb, mmap_mode="r"), table, config, snakemake.params.checkpoint_dir)
torch.save(result.model, snakemake.output.model)
result.metrics.to_csv(snakemake.output.metrics, index=False, lineterminator="\n", float_format="%.6g")
shutil.rmtree(snakemake.params.checkpoint_dir)
