"""Rule reportcl_montage: tumours with mask outlines, grouped by location -> results/figures/reportcl_montage.png"""

import numpy as np

from mrissl.reportcl.curation import read_tumour_index
from mrissl.figures import save_figure
from mrissl.runlog import log_to
from mrissl.reportcl.figures import tumour_montage

log = log_to(snakemake.log[0])
sets = [
    (name, np.load(images, mmap_mode="r"), np.load(masks, mmap_mode="r"), read_tumour_index(index))
    for name, images, masks, index in zip(
        snakemake.params.names, snakemake.input.images, snakemake.input.masks, snakemake.input.indexes
    )
]
log.info("wrote %s", save_figure(tumour_montage(sets), snakemake.output.png))
