"""Rule curation_montage: one slice per class and plane -> results/figures/curation_montage.png"""

import logging

import numpy as np

from mrissl.curate import ordered_classes
from mrissl.curate.slices import read_slice_index
from mrissl.figures import curation_montage, save_figure
from mrissl.runlog import log_to

log_to(snakemake.log[0])

index = read_slice_index(snakemake.input.index)
slices = np.load(snakemake.input.array, mmap_mode="r")
figure = curation_montage(slices, index, ordered_classes(index["label"]), snakemake.params.planes)
logging.info("wrote %s", save_figure(figure, snakemake.output.png))
