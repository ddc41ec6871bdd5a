"""Rule clip_table3: each test report's rank-1 image among the other n - 1 (paper 003 Table 3)
-> results/tables/clip_table3.*"""

from pathlib import Path

import numpy as np
import pandas as pd

from mrissl.clip.tables import test_rank1_table
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
with np.load(snakemake.input.embeddings) as embeddings:
    table = test_rank1_table(dict(embeddings), pd.read_csv(snakemake.input.index, sep="\t"))
written = write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
log.info("%d of %d rank-1 matches share the report's class", int(table["same_class"].sum()), len(table))
