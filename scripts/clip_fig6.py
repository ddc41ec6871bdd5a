"""Rule clip_fig6: image-report similarity matrix of one training batch (paper 003 Fig. 6)
-> results/figures/clip_fig6.png"""

import numpy as np
import pandas as pd

from mrissl.clip.figures import batch_similarity_figure
from mrissl.figures import save_figure
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
with np.load(snakemake.input.embeddings) as embeddings:
    figure = batch_similarity_figure(dict(embeddings), pd.read_csv(snakemake.input.index, sep="\t"))
log.info("wrote %s", save_figure(figure, snakemake.output.png))
