"""Rule seqclass_fig3: accuracy on each external site's sequences per label fraction, one panel per
site, one line per scenario (paper 000, Fig. 3) -> results/figures/seqclass_fig3.png"""

from mrissl.figures import save_figure
from mrissl.runlog import log_to
from mrissl.seqclass.figures import transfer_figure

log = log_to(snakemake.log[0])
figure = transfer_figure(snakemake.input.table, snakemake.params.classes)
log.info("wrote %s", save_figure(figure, snakemake.output.png))
