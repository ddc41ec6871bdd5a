"""Rule seqclass_sites: each external site's curated test slices beside internal ones of the same class
-> results/figures/seqclass_sites.png"""

import numpy as np

from mrissl.figures import save_figure
from mrissl.runlog import log_to
from mrissl.seqclass.figures import sites_figure
from mrissl.seqclass.slices import read_slice_index

log = log_to(snakemake.log[0])


def split(array, index):
    return np.load(array, mmap_mode="r"), read_slice_index(index)


sites = {site: split(array, index) for site, array, index in
         zip(snakemake.params.sites, snakemake.input.site_arrays, snakemake.input.site_indexes)}
figure = sites_figure(split(snakemake.input.array, snakemake.input.index), sites, snakemake.params.classes)
log.info("wrote %s", save_figure(figure, snakemake.output.png))
