"""Rule curation_montage: one slice per class and plane -> results/figures/curation_montage.png"""

import logging

import numpy as np

from mrissl.curate import ordered_classes
from mrissl.curate.slices import read_slice_index
from mrissl.figures import curation_montage, save_figure

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.captureWarnings(True)

index = read_slice_index(snakemake.input.index)
slices = np.load(snakemake.input.array, mmap_mode="r")
figure = curation_montage(slices, index, ordered_classes(index["label"]), snakemake.params.planes)
logging.info("wrote %s", save_figure(figure, snakemake.output.png))
