"""Rule seqclass_curation_montage: one slice per class and plane
-> results/figures/seqclass_curation_montage.png"""

from mrissl.figures import save_figure
from mrissl.runlog import log_to
from mrissl.seqclass.figures import montage_of_split

log = log_to(snakemake.log[0])
figure = montage_of_split(snakemake.input.array, snakemake.input.index, snakemake.params.planes)
log.info("wrote %s", save_figure(figure, snakemake.output.png))
