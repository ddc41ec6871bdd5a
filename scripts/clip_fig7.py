"""Rule clip_fig7: rank against similarity of same-class pairs, per class (paper 003 Fig. 7)
-> results/figures/clip_fig7.png"""

import numpy as np
import pandas as pd

from mrissl.clip.figures import test_rank_similarity_figure
from mrissl.figures import save_figure
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
with np.load(snakemake.input.embeddings) as embeddings:
    figure = test_rank_similarity_figure(dict(embeddings), pd.read_csv(snakemake.input.index, sep="\t"))
log.info("wrote %s", save_figure(figure, snakemake.output.png))
