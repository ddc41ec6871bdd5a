"""Rule reportcl_report_lengths: cleaned report lengths in words and tokens -> a histogram figure."""

import pandas as pd

from mrissl.figures import save_figure
from mrissl.runlog import log_to
from mrissl.reportcl.figures import report_length_figure

log = log_to(snakemake.log[0])
reports = pd.read_csv(snakemake.input.table, sep="\t", keep_default_na=False)
figure = report_length_figure(reports, snakemake.params.max_length, snakemake.params.text_encoder)
log.info("wrote %s", save_figure(figure, snakemake.output.png))
