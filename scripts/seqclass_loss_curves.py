"""Rule seqclass_loss_curves: pretraining loss per epoch of every run (SimCLR, SimSiam) and SimCLR's
contrastive top-1 accuracy, mean over seeds -> results/figures/seqclass_loss_curves.png"""

from mrissl.figures import save_figure
from mrissl.runlog import log_to
from mrissl.seqclass.figures import loss_curves_figure

log = log_to(snakemake.log[0])
figure = loss_curves_figure(snakemake.input.metrics, snakemake.params.runs)
log.info("wrote %s", save_figure(figure, snakemake.output.png))
