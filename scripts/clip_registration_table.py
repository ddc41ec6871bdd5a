"""Rule clip_registration_table: registration QC per sequence -> results/tables/clip_registration_qc.*"""

from pathlib import Path

import pandas as pd

from mrissl.clip.curation import registration_summary
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
table = registration_summary(pd.read_csv(snakemake.input.qc, sep="\t"), snakemake.params.voxel_mm)
written = write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
log.info("wrote %s", ", ".join(map(str, written)))
