"""Rule clip_registration_overlay: FLAIR with DWI/T2* edges before and after registration."""

import numpy as np

from mrissl.clip.figures import registration_overlay
from mrissl.figures import save_figure
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
with np.load(snakemake.input.preview) as preview:
    figure = registration_overlay(dict(preview))
log.info("wrote %s", save_figure(figure, snakemake.output.png))
