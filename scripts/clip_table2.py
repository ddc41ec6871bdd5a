"""Rule clip_table2: the test images most similar to the query, with reports, scores and classes
(paper 003 Table 2) -> results/tables/clip_table2.*"""

from pathlib import Path

import numpy as np
import pandas as pd

from mrissl.clip.tables import test_query_table
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
with np.load(snakemake.input.embeddings) as embeddings:
    table = test_query_table(dict(embeddings), pd.read_csv(snakemake.input.index, sep="\t"), snakemake.params.top)
written = write_table_formats(table, Path(snakemake.output.csv).with_suffix(""), caption=snakemake.params.caption)
log.info("wrote %s", ", ".join(map(str, written)))
