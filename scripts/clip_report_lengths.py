"""Rule clip_report_lengths: report lengths in characters by report-derived class (paper 003 Fig. 3)."""

import pandas as pd

from mrissl.clip.figures import report_length_figure
from mrissl.figures import save_figure
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
index = pd.read_csv(snakemake.input.index, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
log.info("wrote %s", save_figure(report_length_figure(index), snakemake.output.png))
