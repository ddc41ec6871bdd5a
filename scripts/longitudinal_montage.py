"""Rule longitudinal_montage: one subject's VBs and IVDs at baseline and follow-up -> a figure."""

import numpy as np

from mrissl.longitudinal.curation import read_scan_table
from mrissl.longitudinal.vertebrae import read_vertebrae_index
from mrissl.figures import save_figure
from mrissl.runlog import log_to
from mrissl.longitudinal.figures import vertebrae_montage

log = log_to(snakemake.log[0])
figure = vertebrae_montage(
    np.load(snakemake.input.vb, mmap_mode="r"),
    np.load(snakemake.input.ivd, mmap_mode="r"),
    read_vertebrae_index(snakemake.input.index),
    read_scan_table(snakemake.input.scans),
)
log.info("wrote %s", save_figure(figure, snakemake.output.png))
