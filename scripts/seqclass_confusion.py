"""Rule seqclass_confusion: row-normalised test confusion matrices per label fraction (columns) for a
pretrained encoder and the one from random weights (rows), counts summed over seeds
-> results/figures/seqclass_confusion.png"""

from mrissl.figures import save_figure
from mrissl.runlog import log_to
from mrissl.seqclass.figures import confusion_figure

log = log_to(snakemake.log[0])
rows = dict(zip(snakemake.params.rows, [snakemake.input.pretrained, snakemake.input.scratch]))
log.info("wrote %s", save_figure(confusion_figure(rows, snakemake.params.fractions), snakemake.output.png))
